"""The REST channel for integrations and tests: one request, the bot's replies in the response."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from core import json_body
from core.identity import CustomerIdentity, InvalidCustomerToken, verify_customer_token
from core.keys import ROUTER_KEY, SETTINGS_KEY
from core.messages import InboundMessage
from handoff.router import InvalidMessage

logger = logging.getLogger(__name__)

CHANNEL = "rest"
_MAX_SENDER_CHARS = 128


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


def parse_body(raw: bytes) -> dict[str, Any]:
    """Check the request body's shape: {"sender": str, "text": str, "customer_token": str?}."""
    try:
        body = json_body.loads(raw)
    except json_body.BadInput as err:
        raise _bad_request(str(err)) from err
    if not isinstance(body, dict):
        raise _bad_request('Body must be a JSON object: {"sender": "...", "text": "..."}.')
    sender, text, token = body.get("sender"), body.get("text"), body.get("customer_token")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > _MAX_SENDER_CHARS:
        raise _bad_request(f"'sender' must be a non-empty string of at most {_MAX_SENDER_CHARS} characters.")
    if not isinstance(text, str):
        raise _bad_request("'text' must be a string.")
    if token is not None and not isinstance(token, str):
        raise _bad_request("'customer_token' must be a string when given.")
    return {"sender": sender, "text": text, "customer_token": token}


class RestChannel:
    """POST /api/channels/rest/messages."""

    def register(self, app: web.Application, path: str) -> None:
        """Add the channel's route."""
        app.router.add_post(path, self.handle, name="rest_messages")

    async def close(self) -> None:
        """Nothing to release: the channel holds no connections."""

    async def handle(self, request: web.Request) -> web.Response:
        """Route one message and return the conversation id and the replies."""
        body = parse_body(await request.read())
        identity: CustomerIdentity | None = None
        if body["customer_token"]:
            try:
                identity = verify_customer_token(
                    body["customer_token"], request.app[SETTINGS_KEY].customer_token_secret
                )
            except InvalidCustomerToken as err:
                return web.json_response({"error": str(err)}, status=401)
        message = InboundMessage(channel=CHANNEL, channel_user_id=body["sender"], text=body["text"], identity=identity)
        try:
            turn = await request.app[ROUTER_KEY].handle(message)
        except InvalidMessage as err:
            return web.json_response({"error": str(err)}, status=400)
        return web.json_response(
            {
                "conversation_id": turn.conversation_id,
                "state": turn.state,
                "replies": [reply.to_dict() for reply in turn.replies],
            }
        )
