"""The REST channel for integrations: one request, the bot's replies in the response.

Each integration (a partner's backend, a test harness) has its own API key, sent
as `X-Api-Key: <key>` (or `Authorization: Bearer <key>`); settings hold only the key's SHA-256
(REST_API_KEYS). Conversations are keyed by integration + sender, so one
integration can never reach another's customers. The first verified customer
token in a conversation pins it to that customer: from then on every message
must carry that customer's token, so neither another customer nor a client
without a token can join it or read the operator's replies waiting in it.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pymongo.errors import PyMongoError

from core import json_body
from core.identity import CustomerIdentity, InvalidCustomerToken, hash_api_key, verify_customer_token
from core.keys import ROUTER_KEY, SETTINGS_KEY
from core.messages import InboundMessage
from handoff.router import ConversationLocked, DuplicateMessage, InvalidMessage, MessageInProgress

logger = logging.getLogger(__name__)

CHANNEL = "rest"
_MAX_SENDER_CHARS = 128
# A client's own id for a message, so a retry after an error is stored once; a UUID fits with room to spare.
_MAX_MESSAGE_ID_CHARS = 64
_BEARER_PREFIX = "Bearer "
# How long a client should wait before retrying a message that is still being stored (seconds).
_RETRY_AFTER_SECONDS = 2


@dataclass(frozen=True)
class RestRequest:
    """A checked request body."""

    sender: str  # the integration's own id for its customer's conversation
    text: str
    customer_token: str | None  # the bank website's signed token, when the customer signed in
    message_id: str | None  # the client's id for this message: retries with the same id are stored once


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


def parse_body(raw: bytes) -> RestRequest:
    """Check the request body's shape: {"sender": str, "text": str, "customer_token": str?, "message_id": str?}."""
    try:
        body = json_body.loads(raw)
    except json_body.BadInput as err:
        raise _bad_request(str(err)) from err
    if not isinstance(body, dict):
        raise _bad_request('Body must be a JSON object: {"sender": "...", "text": "..."}.')
    sender, text, token, message_id = (body.get(k) for k in ("sender", "text", "customer_token", "message_id"))
    if not isinstance(sender, str) or not sender.strip() or len(sender) > _MAX_SENDER_CHARS:
        raise _bad_request(f"'sender' must be a non-empty string of at most {_MAX_SENDER_CHARS} characters.")
    if not isinstance(text, str):
        raise _bad_request("'text' must be a string.")
    if token is not None and not isinstance(token, str):
        raise _bad_request("'customer_token' must be a string when given.")
    if message_id is not None and (
        not isinstance(message_id, str) or not message_id.strip() or len(message_id) > _MAX_MESSAGE_ID_CHARS
    ):
        raise _bad_request(f"'message_id' must be a non-empty string of at most {_MAX_MESSAGE_ID_CHARS} characters.")
    return RestRequest(sender=sender, text=text, customer_token=token or None, message_id=message_id)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key from `X-Api-Key: <key>` or `Authorization: Bearer <key>`."""
    key = headers.get("X-Api-Key")
    authorization = headers.get("Authorization") or ""
    if not key and authorization.startswith(_BEARER_PREFIX):
        key = authorization[len(_BEARER_PREFIX) :]
    return key.strip() if key and key.strip() else None


def integration_of(key: str | None, api_keys: dict[str, str]) -> str | None:
    """The integration whose API key the request presents, or None.

    Every configured hash is compared in constant time, so timing tells nothing about which came close.
    """
    if key is None:
        return None
    presented = hash_api_key(key)
    found: str | None = None
    for name, digest in api_keys.items():
        if hmac.compare_digest(presented, digest):
            found = name
    return found


def _error(status: int, reason: str, **extra: Any) -> web.Response:
    return web.json_response({"error": reason, **extra}, status=status)


class RestChannel:
    """POST /api/channels/rest/messages."""

    def register(self, app: web.Application, path: str) -> None:
        """Add the channel's route."""
        app.router.add_post(path, self.handle, name="rest_messages")

    async def close(self) -> None:
        """Nothing to release: the channel holds no connections."""

    async def handle(self, request: web.Request) -> web.Response:
        """Route one message and return the conversation id and the replies."""
        settings = request.app[SETTINGS_KEY]
        integration = integration_of(presented_key(request.headers), settings.rest_api_keys)
        if integration is None:
            response = _error(401, "Send the integration's API key: 'X-Api-Key: <key>' (see REST_API_KEYS).")
            response.headers["WWW-Authenticate"] = 'Bearer realm="rest"'
            return response
        body = parse_body(await request.read())
        identity: CustomerIdentity | None = None
        if body.customer_token:
            try:
                identity = verify_customer_token(body.customer_token, settings.customer_token_secret)
            except InvalidCustomerToken as err:
                return _error(401, str(err))
        channel_user_id = f"{integration}:{body.sender}"
        try:
            return await self._route(request, channel_user_id, body, identity)
        except PyMongoError:
            logger.exception("REST message of %s could not be stored", integration)
            # With a message_id nothing was stored (its claim was given back) and the retry is stored once.
            return _error(
                503,
                "The message could not be stored; send it again"
                + (" with the same message_id." if body.message_id else " (a message_id makes retries safe)."),
                retryable=True,
                message_id=body.message_id,
            )

    async def _route(
        self, request: web.Request, channel_user_id: str, body: RestRequest, identity: CustomerIdentity | None
    ) -> web.Response:
        router = request.app[ROUTER_KEY]
        current = await router.find_open(CHANNEL, channel_user_id)
        locked = current is not None and current.customer_id is not None and not current.verified_by_operator
        if locked and identity is None:
            return _error(
                403,
                "This conversation belongs to a signed-in customer: send their customer_token, "
                "or start a new conversation with a new sender.",
                code="conversation_locked",
            )
        message = InboundMessage(
            channel=CHANNEL,
            channel_user_id=channel_user_id,
            text=body.text,
            identity=identity,
            channel_message_id=f"{channel_user_id}:{body.message_id}" if body.message_id else None,
        )
        try:
            turn = await router.handle(message, conversation=current)
        except ConversationLocked as err:
            return _error(403, str(err), code="conversation_locked")
        except InvalidMessage as err:
            return _error(400, str(err))
        except DuplicateMessage:
            # A retry of a stored message: its replies went to the first attempt or wait in the transcript.
            return web.json_response({"duplicate": True, "message_id": body.message_id, "replies": []})
        except MessageInProgress:
            response = _error(
                503, "This message is still being stored; retry with the same message_id.", retryable=True
            )
            response.headers["Retry-After"] = str(_RETRY_AFTER_SECONDS)
            return response
        return web.json_response(
            {
                "conversation_id": turn.conversation_id,
                "state": turn.state,
                "message_id": body.message_id,
                "replies": [reply.to_dict() for reply in turn.replies],
            }
        )
