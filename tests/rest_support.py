"""Talking to the gateway's REST channel as an integration does."""

from __future__ import annotations

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
