"""Talking to the gateway's REST channel as an integration does."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp

from core.settings import LOCAL_REST_API_KEY

REST_PATH = "/api/channels/rest/messages"
# The local integration's API key (REST_API_KEYS default).
REST_HEADERS = {"Authorization": f"Bearer {LOCAL_REST_API_KEY}"}


async def rest_message(
    http: aiohttp.ClientSession, gateway_url: str, sender: str, text: str, token: str | None = None
) -> dict[str, Any]:
    """Send one customer message and return the turn; fails on anything but 200."""
    body: dict[str, Any] = {"sender": sender, "text": text}
    if token is not None:
        body["customer_token"] = token
    async with http.post(gateway_url + REST_PATH, json=body, headers=REST_HEADERS) as resp:
        payload: dict[str, Any] = await resp.json()
        assert resp.status == 200, payload
        return payload


NBSP = "\u00a0"


class Customer:
    """One customer writing to the REST channel, optionally signed in with a token from the bank's site."""

    def __init__(
        self, http: aiohttp.ClientSession, gateway_url: str, token: str | None = None, *, prefix: str = "story"
    ) -> None:
        self.http = http
        self.gateway_url = gateway_url
        self.sender = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.token = token
        self.conversation_id = ""

    async def says(self, text: str) -> list[dict[str, Any]]:
        """Send a message; return the bot's replies."""
        payload = await rest_message(self.http, self.gateway_url, self.sender, text, self.token)
        self.conversation_id = payload["conversation_id"]
        replies: list[dict[str, Any]] = payload["replies"]
        return replies


def said(replies: list[dict[str, Any]]) -> str:
    """Everything the bot wrote, as one string with ordinary spaces (amounts use NBSP)."""
    return "\n".join(r.get("text") or "" for r in replies).replace(NBSP, " ").replace("\u202f", " ")


def buttons(replies: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Every button of the replies."""
    return [b for r in replies for b in r.get("buttons") or []]
