"""Which requests need the caller to prove who they are, asked of Rasa's NLU before the bot answers."""

from __future__ import annotations

import logging
import re
from typing import Protocol, TypedDict

import aiohttp

from core.masking import mask_sensitive

logger = logging.getLogger(__name__)

# Requests that read or change the customer's money: a caller number alone is not enough for them.
SENSITIVE_INTENTS = frozenset({"check_balance", "recent_transactions", "block_card"})
_PAYLOAD_INTENT_RE = re.compile(r"^/(?P<intent>[a-z_]+)")
# The parse must not become dead air: past this the request is treated as not sensitive and the bot decides.
_PARSE_TIMEOUT_SECONDS = 1.5


class ParsedIntent(TypedDict):
    """The part of Rasa's `POST /model/parse` answer we read."""

    name: str  # the intent, e.g. "check_balance"
    confidence: float  # 0..1


class IntentParser(Protocol):
    """Names the intent of a caller's words."""

    async def intent_of(self, text: str) -> str | None:
        """The intent name, or None when it cannot be told."""
        ...


class RasaIntentParser:
    """Rasa's HTTP API (`POST /model/parse`, enabled by `--enable-api`) on the gateway's shared session."""

    def __init__(self, session: aiohttp.ClientSession, rasa_url: str, token: str) -> None:
        self._session = session
        self._url = f"{rasa_url}/model/parse"
        self._token = token

    async def intent_of(self, text: str) -> str | None:
        """The intent Rasa's NLU gives the text; None when Rasa cannot answer in time."""
        parsed = await self.parse(text)
        return parsed["name"] if parsed else None

    async def parse(self, text: str) -> ParsedIntent | None:
        """The intent Rasa's NLU gives the text, with its confidence; None when Rasa cannot answer in time."""
        try:
            async with self._session.post(
                self._url,
                params={"token": self._token},
                json={"text": text},
                timeout=aiohttp.ClientTimeout(total=_PARSE_TIMEOUT_SECONDS),
            ) as resp:
                if resp.status != 200:
                    logger.warning("Rasa /model/parse answered %s", resp.status)
                    return None
                body = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as err:
            logger.warning("Rasa /model/parse failed: %s", err)
            return None
        intent = body.get("intent") if isinstance(body, dict) else None
        if not isinstance(intent, dict) or not isinstance(intent.get("name"), str):
            return None
        confidence = intent.get("confidence")
        return ParsedIntent(
            name=intent["name"], confidence=float(confidence) if isinstance(confidence, int | float) else 0.0
        )


async def intent_of_request(text: str, parser: IntentParser) -> str | None:
    """The intent of a caller's request; button payloads name it themselves, typed digits have none."""
    match = _PAYLOAD_INTENT_RE.match(text)
    if match:
        return match.group("intent")
    if text.isdigit():
        return None
    # Rasa's /model/parse keeps nothing, but may log: it hears what the tracker would (core/masking.py).
    return await parser.intent_of(mask_sensitive(text).text)
