"""Rasa input channel for the contact-center gateway: bearer-token check and metadata pass-through."""

from __future__ import annotations

import hmac
import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import rasa_patches, settled_slots

logger = logging.getLogger(__name__)
# Rasa imports this module at start (bot/credentials.yml names the channel), so the patches are in place before any turn.
rasa_patches.apply()
settled_slots.apply()

# Same default as the gateway's settings, so a local run works without configuration.
_DEFAULT_TOKEN = "local-dev-rasa-token"
_BEARER_PREFIX = "Bearer "


class GatewayInput(RestInput):
    """The REST channel, reachable only by the gateway, with the gateway's metadata.

    Only the gateway may talk to Rasa: it masks card numbers and decides who the
    customer is, so a caller that skips it could claim any customer_id in the
    metadata. The token is compared in constant time (hmac.compare_digest).
    Replies are the REST channel's list of messages, unchanged.
    """

    def __init__(self, token: Optional[str] = None) -> None:
        """Read the shared token from RASA_TOKEN unless one is given (tests)."""
        self._token = token if token is not None else os.environ.get("RASA_TOKEN", _DEFAULT_TOKEN)

    @classmethod
    def name(cls) -> str:
        """URL prefix of the channel: /webhooks/gateway/webhook."""
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GatewayInput":
        """Build the channel; credentials.yml holds no secret, the token comes from the environment."""
        return cls()

    def is_authorized(self, request: Request) -> bool:
        """Return True when the request carries `Authorization: Bearer <RASA_TOKEN>`."""
        header = request.headers.get("Authorization") or ""
        if not header.startswith(_BEARER_PREFIX):
            return False
        presented = header[len(_BEARER_PREFIX) :].strip()
        return hmac.compare_digest(presented.encode("utf-8"), self._token.encode("utf-8"))

    def get_metadata(self, request: Request) -> Optional[Dict[str, Any]]:
        """Hand the gateway's metadata to Rasa, so actions read it from latest_message["metadata"]."""
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The REST channel's routes behind the bearer-token check."""
        gateway_webhook = super().blueprint(on_new_message)

        @gateway_webhook.middleware("request")
        async def require_gateway_token(request: Request) -> Optional[HTTPResponse]:
            if self.is_authorized(request):
                return None
            logger.warning("Rejected a request to the gateway channel without a valid bearer token.")
            return response.json({"error": "unauthorized"}, status=401)

        return gateway_webhook
