"""Outbound SMS and calls through Twilio's REST API (the `twilio` package; base URL configurable).

SMS is the fallback for customers without Telegram. A call is placed with answering-machine
detection and status callbacks: a machine hears only a neutral "please call the bank" (nothing about
a debt), a person is taken into the existing voice session (connectors/voice), which verifies who
they are before anything about an account is said. The call's final status decides the attempt's
outcome: busy and no-answer are retried with backoff, like any temporary failure.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from connectors.voice.prompts import Prompt, prompt_text
from connectors.voice.twiml import CALL_ID_PREFIX
from core.form_body import read_form
from core.language import Language
from outbound.limits import SharedSlots
from outbound.models import Channel
from outbound.senders import FinalFailure, OutboundMessage, SendResult, Sent, TemporaryFailure, Unknown

logger = logging.getLogger(__name__)

ANSWER_PATH = "/voice/outbound/answer"
STATUS_PATH = "/voice/outbound/status"
# Twilio's own codes for a number that can never take the message (invalid, unsubscribed, landline...).
_TEMPORARY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REQUEST_TIMEOUT_SECONDS = 15.0
_SIGNATURE_HEADER = "X-Twilio-Signature"
_SIGNATURE_SETTINGS_HEADER = "X-Twilio-Signature-Settings"
_VOICES = {"ru": "ru-RU", "en": "en-US"}


class _AsyncHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the package ships no type hints here
    """The package's aiohttp client, with the credentials in a header and a bounded wait.

    aiohttp deprecates the BasicAuth object the package passes; the bound turns a provider that never
    answers into an `Unknown` outcome instead of a stuck worker.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 -- the package's own signature
        allow_redirects: bool = False,
    ) -> Any:
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        return await super().request(
            method, url, params, data, headers, None, timeout or _REQUEST_TIMEOUT_SECONDS, allow_redirects
        )


def twilio_client(account_sid: str, auth_token: str, api_base: str) -> Client:
    """An async-capable Twilio client whose REST calls go to `api_base` (Twilio itself, an edge, a stand-in)."""
    client = Client(account_sid, auth_token, http_client=_AsyncHttpClient())
    client.api.base_url = api_base.rstrip("/")
    return client


def _outcome(err: Exception) -> SendResult:
    if isinstance(err, TwilioRestException):
        if err.status in _TEMPORARY_STATUSES:
            return TemporaryFailure(f"Twilio {err.status}: {err.msg}")
        return FinalFailure(f"Twilio {err.status} ({err.code}): {err.msg}")
    return Unknown(f"no answer from Twilio: {err}")


class SmsSender:
    """Messages API: one POST per message."""

    channel = Channel.SMS

    def __init__(self, client: Client, from_number: str) -> None:
        self.client, self.from_number = client, from_number

    async def reserve(self, address: str) -> None:
        """Twilio queues messages itself (its own rate per sender number); nothing to wait for here."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Send the text (buttons do not exist in SMS)."""
        try:
            created = await self.client.messages.create_async(
                to=message.address, from_=self.from_number, body=message.text
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as err:
            return _outcome(err)
        return Sent(provider_id=str(created.sid))

    async def close(self) -> None:
        """Close the HTTP session."""
        await _close(self.client)


class CallSender:
    """Calls API with answering-machine detection; at most `slots.limit` calls at once across workers."""

    channel = Channel.CALL

    def __init__(self, client: Client, from_number: str, public_url: str, slots: SharedSlots | None = None) -> None:
        self.client, self.from_number, self.public_url, self.slots = client, from_number, public_url.rstrip("/"), slots

    async def reserve(self, address: str) -> None:
        """Lines are counted when the call is placed (`slots`), not here."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Place the call; the answer and status webhooks carry the attempt's id."""
        if self.slots is not None and not await self.slots.try_acquire(message.attempt_id):
            return TemporaryFailure("every outbound line is busy", retry_after=60)
        query = f"?attempt={message.attempt_id}&lang={message.language}"
        try:
            call = await self.client.calls.create_async(
                to=message.address,
                from_=self.from_number,
                url=f"{self.public_url}{ANSWER_PATH}{query}",
                machine_detection="Enable",
                status_callback=f"{self.public_url}{STATUS_PATH}{query}",
                status_callback_event=["completed"],
                status_callback_method="POST",
            )
        except (TwilioRestException, aiohttp.ClientError, TimeoutError) as err:
            if self.slots is not None:
                await self.slots.release(message.attempt_id)
            return _outcome(err)
        # Answered by a person, the call goes on in the voice session, which knows it by this id.
        return Sent(provider_id=str(call.sid), channel_user_id=CALL_ID_PREFIX + str(call.sid))

    async def close(self) -> None:
        """Close the HTTP session."""
        await _close(self.client)


async def _close(client: Client) -> None:
    http = client.http_client
    if isinstance(http, AsyncTwilioHttpClient):
        await http.close()


def twiml(response: VoiceResponse) -> web.Response:
    """A TwiML document."""
    return web.Response(text=str(response), content_type="application/xml")


def answered(answered_by: str, language: str, continue_at: str) -> VoiceResponse:
    """What the line says once the call is answered: neutral to a machine, into the voice session for a person."""
    lang: Language = "en" if language == "en" else "ru"
    response = VoiceResponse()
    if answered_by.startswith("machine") or answered_by == "fax":
        response.say(prompt_text(Prompt.OUTBOUND_MACHINE, lang), language=_VOICES[lang])
        response.hangup()
        return response
    response.say(prompt_text(Prompt.OUTBOUND_OPENING, lang), language=_VOICES[lang])
    response.redirect(continue_at, method="POST")
    return response


class TwilioWebhooks:
    """The outbound call's webhooks, signed by Twilio with the account's auth token."""

    def __init__(
        self,
        auth_token: str,
        public_url: str,
        on_status: Callable[[str, str, str, str], Awaitable[None]],
        continue_at: str = "/voice/twiml/incoming",
    ) -> None:
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.public_url = public_url.rstrip("/")
        self.on_status = on_status
        self.continue_at = continue_at

    async def form(self, request: web.Request) -> dict[str, str]:
        """The form after checking X-Twilio-Signature over the public URL and every field."""
        form = await read_form(request)  # a 400 for an unreadable body, before anything else
        if self.validator is None:
            raise web.HTTPServiceUnavailable(text="Set TWILIO_AUTH_TOKEN: outbound call webhooks cannot be trusted.")
        url = f"{self.public_url}{request.path_qs}" if self.public_url else str(request.url)
        algorithm = get_signature_algorithm(request.headers.get(_SIGNATURE_SETTINGS_HEADER))
        if not self.validator.validate(url, form, request.headers.get(_SIGNATURE_HEADER, ""), algorithm=algorithm):
            raise web.HTTPForbidden(text="Bad X-Twilio-Signature.")
        return form

    async def answer(self, request: web.Request) -> web.Response:
        """The callee answered (AnsweredBy from answering-machine detection)."""
        form = await self.form(request)
        return twiml(answered(form.get("AnsweredBy", "unknown"), request.query.get("lang", "ru"), self.continue_at))

    async def status(self, request: web.Request) -> web.Response:
        """The call ended: completed, busy, no-answer, failed or canceled."""
        form = await self.form(request)
        attempt_id = request.query.get("attempt", "")
        if attempt_id:
            await self.on_status(
                attempt_id, form.get("CallStatus", ""), form.get("AnsweredBy", ""), form.get("CallSid", "")
            )
        return web.Response(status=204)

    def register(self, app: web.Application) -> None:
        """Add both routes."""
        app.router.add_post(ANSWER_PATH, self.answer, name="outbound_call_answer")
        app.router.add_post(STATUS_PATH, self.status, name="outbound_call_status")


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
