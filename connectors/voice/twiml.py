"""The TwiML webhook adapter (Twilio, SignalWire, Telnyx TeXML and compatible voice gateways)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import quote

from aiohttp import web
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.voice_response import VoiceResponse

from connectors.voice.calls import load_call, save_call
from connectors.voice.intents import RasaIntentParser
from connectors.voice.session import Heard, NextStep, VoiceOutcome, VoiceSession
from core.banking import create_banking_backend
from core.form_body import read_form
from core.keys import DB_KEY, HTTP_SESSION_KEY, ROUTER_KEY, SETTINGS_KEY

logger = logging.getLogger(__name__)

CALL_ID_PREFIX = "twiml:"
# Seconds Gather waits for the caller to start; speech ends on its own ("auto"), keys with "#".
_GATHER_TIMEOUT_SECONDS = 5
# Recognizer and voice per call language; docs/integrations.md, "Phone line", says how to change them.
_VOICE_LANGUAGES: dict[str, str] = {"ru": "ru-RU", "en": "en-US"}
# Status callback values after which the call is over.
_FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
_SIGNATURE_HEADER = "X-Twilio-Signature"
_SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


class TwimlCallForm(TypedDict, total=False):
    """The form fields of a voice webhook the adapter reads (the gateway sends many more)."""

    CallSid: str  # the gateway's call id, "CA" + 32 hex digits on Twilio
    From: str  # caller number, E.164 ("+79160000001") or "anonymous"
    To: str  # the bank's number that was called
    SpeechResult: str  # recognized words, absent when the caller pressed keys or said nothing
    Confidence: str  # recognizer confidence "0.0".."1.0"
    Digits: str  # keys pressed, e.g. "1" or "5678#"
    CallStatus: str  # status callbacks: "ringing", "in-progress", "completed", ...
    CallDuration: str  # status callbacks: seconds of a completed call


@dataclass(frozen=True)
class TwimlConfig:
    """How the adapter talks to the voice gateway."""

    auth_token: str  # the gateway account's secret that signs every webhook
    public_url: str  # base URL as the gateway calls it ("" = as this server sees the request)
    language: str  # the line's language, "ru" or "en"
    transfer: str  # "enqueue" (the gateway's own queue) or "sip" (the bank's PBX queue)
    queue_name: str
    sip_uri: str  # e.g. "sip:operators@pbx.bank.example"
    workflow_sid: str  # TaskRouter workflow for <Enqueue>; "" = plain named queue
    max_call_seconds: float


def _to_float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


class TwimlChannel:
    """POST <path>/incoming, <path>/gather and <path>/status."""

    def __init__(self, config: TwimlConfig) -> None:
        self._config = config
        self._validator = RequestValidator(config.auth_token) if config.auth_token else None
        self._session: VoiceSession | None = None

    def register(self, app: web.Application, path: str) -> None:
        """Add the webhook routes."""
        self._base = path.rstrip("/")
        app.router.add_post(f"{self._base}/incoming", self.incoming, name="twiml_incoming")
        app.router.add_post(f"{self._base}/gather", self.gather, name="twiml_gather")
        app.router.add_post(f"{self._base}/status", self.status, name="twiml_status")

    async def close(self) -> None:
        """Nothing to release: call state lives in MongoDB."""

    def _voice_session(self, app: web.Application) -> VoiceSession:
        if self._session is None:
            settings = app[SETTINGS_KEY]
            self._session = VoiceSession(
                app[ROUTER_KEY],
                create_banking_backend(settings, app[DB_KEY]),
                RasaIntentParser(app[HTTP_SESSION_KEY], settings.rasa_url, settings.rasa_token),
                app[DB_KEY],
                max_call_seconds=self._config.max_call_seconds,
            )
        return self._session

    async def _verified_form(self, request: web.Request) -> dict[str, str]:
        """The form, after checking the gateway's signature over the URL and every field.

        Raises:
            HTTPBadRequest: the body is not a readable form (checked first: core/form_body.py).
            HTTPServiceUnavailable: no auth token is configured, so nothing can be trusted.
            HTTPForbidden: the signature is missing or wrong.
        """
        params = await read_form(request)
        if self._validator is None:
            raise web.HTTPServiceUnavailable(
                text="Set TWIML_AUTH_TOKEN to the voice gateway's auth token (docs/integrations.md, 'Phone line')."
            )
        url = f"{self._config.public_url.rstrip('/')}{request.path_qs}" if self._config.public_url else str(request.url)
        signature = request.headers.get(_SIGNATURE_HEADER, "")
        algorithm = get_signature_algorithm(request.headers.get(_SIGNATURE_SETTINGS_HEADER))
        if not signature or not self._validator.validate(url, params, signature, algorithm=algorithm):
            logger.warning("Refused a voice webhook with a bad signature for %s", url)
            raise web.HTTPForbidden(text="Bad X-Twilio-Signature.")
        return params

    async def incoming(self, request: web.Request) -> web.Response:
        """A new call: greet (or, for a retried webhook, resume where the call is)."""
        form = await self._verified_form(request)
        call_sid = form.get("CallSid", "")
        if not call_sid:
            raise web.HTTPBadRequest(text="CallSid is missing.")
        db = request.app[DB_KEY]
        session = self._voice_session(request.app)
        state = await load_call(db, CALL_ID_PREFIX + call_sid)
        if state is None:
            caller = form.get("From") or None
            state, outcome = await session.start(CALL_ID_PREFIX + call_sid, caller, self._config.language)
        else:
            outcome = await session.turn(state, Heard())
        await save_call(db, state)
        return self._twiml(request, outcome)

    async def gather(self, request: web.Request) -> web.Response:
        """The caller's turn: recognized speech, keys, or nothing (Gather's actionOnEmptyResult)."""
        form = await self._verified_form(request)
        db = request.app[DB_KEY]
        state = await load_call(db, CALL_ID_PREFIX + form.get("CallSid", ""))
        if state is None:
            return self._twiml(request, VoiceOutcome(prompts=(), step=NextStep.HANGUP, language="ru"))
        heard = Heard(
            speech=form.get("SpeechResult"), confidence=_to_float(form.get("Confidence")), digits=form.get("Digits")
        )
        outcome = await self._voice_session(request.app).turn(state, heard)
        await save_call(db, state)
        return self._twiml(request, outcome)

    async def status(self, request: web.Request) -> web.Response:
        """Status callbacks: a finished call (hang-up included) ends the session."""
        form = await self._verified_form(request)
        db = request.app[DB_KEY]
        state = await load_call(db, CALL_ID_PREFIX + form.get("CallSid", ""))
        if state is not None and form.get("CallStatus") in _FINAL_STATUSES:
            self._voice_session(request.app).end(state, f"status:{form.get('CallStatus')}")
            await save_call(db, state)
            logger.info("Call %s ended: %s after %s s", state.call_id, form.get("CallStatus"), form.get("CallDuration"))
        return web.Response(status=204)

    def _twiml(self, request: web.Request, outcome: VoiceOutcome) -> web.Response:
        """The outcome as TwiML: the recognizer listens in the call's language, each prompt is said in its own."""
        language = _VOICE_LANGUAGES[outcome.language]
        response = VoiceResponse()
        if outcome.step is NextStep.GATHER:
            gather = response.gather(
                input="dtmf" if outcome.dtmf_only else "dtmf speech",
                action=str(request.app.router["twiml_gather"].url_for()),
                method="POST",
                language=language,
                hints=outcome.speech_hints,
                timeout=_GATHER_TIMEOUT_SECONDS,
                speech_timeout="auto",
                finish_on_key="#",
                num_digits=outcome.max_digits,
                action_on_empty_result=True,
                barge_in=True,
            )
            for prompt in outcome.prompts:
                gather.say(prompt.text, language=_VOICE_LANGUAGES[prompt.language])
        else:
            for prompt in outcome.prompts:
                response.say(prompt.text, language=_VOICE_LANGUAGES[prompt.language])
        if outcome.step is NextStep.TRANSFER and outcome.conversation_id:
            self._transfer(response, outcome.conversation_id)
        elif outcome.step is not NextStep.GATHER:
            response.hangup()
        return web.Response(text=str(response), content_type="application/xml")

    def _transfer(self, response: VoiceResponse, conversation_id: str) -> None:
        """Hand the call to the operators' queue with the opaque conversation id, nothing about the customer."""
        if self._config.transfer == "sip":
            dial = response.dial()
            separator = "&" if "?" in self._config.sip_uri else "?"
            dial.sip(f"{self._config.sip_uri}{separator}X-CC-Conversation-Id={quote(conversation_id)}")
            return
        enqueue = response.enqueue(self._config.queue_name, workflow_sid=self._config.workflow_sid or None)
        if self._config.workflow_sid:
            enqueue.task(json.dumps({"conversation_id": conversation_id}))
