"""The Rasa leg of the router: one HTTP call per customer message."""

from __future__ import annotations

import logging
from typing import Any, TypedDict

import aiohttp

from core.identity import Voucher, sign_voucher
from core.messages import Button, Reply

logger = logging.getLogger(__name__)


class BotMetadata(TypedDict):
    """What Rasa's gateway channel receives beside the text (see bot/gateway_channel.py)."""

    channel: str  # "rest", "webchat", "telegram", "voice"
    language: str  # "ru" or "en", decided by the gateway per message
    customer_id: str | None  # only when verified; informative, the actions read it from `identity`
    identity_method: str | None  # how customer_id was verified
    redacted: list[str]  # kinds of secrets the gateway masked out of this message


class SignedBotMetadata(BotMetadata):
    """The metadata as it travels: the router's fields plus the gateway's signature over who is writing."""

    identity: str  # core.identity.sign_voucher over conversation, channel, customer_id; the actions trust only this


class BotUnavailable(RuntimeError):
    """Rasa or its action server failed, timed out or answered nothing."""


class BotNotReady(BotUnavailable):
    """Rasa refuses connections: still loading its model, or restarting; worth waiting for (handoff/bot_pool.py)."""


class RasaBot:
    """Client of Rasa's gateway input channel."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        timeout_seconds: float,
        identity_secret: str,
    ) -> None:
        self._session = session
        self._identity_secret = identity_secret
        self._url = f"{base_url}/webhooks/gateway/webhook"
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)

    async def send(self, conversation_id: str, text: str, metadata: BotMetadata) -> list[Reply]:
        """Send one message and return the bot's replies.

        Every turn of our assistant says something, so an empty answer means an
        action failed inside Rasa (Rasa logs the error and carries on silently).
        """
        voucher = Voucher(
            conversation_id=conversation_id,
            channel=metadata["channel"],
            customer_id=metadata["customer_id"],
            method=metadata["identity_method"],
        )
        signed: SignedBotMetadata = {**metadata, "identity": sign_voucher(voucher, self._identity_secret)}
        body = {"sender": conversation_id, "message": text, "metadata": signed}
        try:
            async with self._session.post(self._url, json=body, headers=self._headers, timeout=self._timeout) as resp:
                if resp.status != 200:
                    raise BotUnavailable(f"Rasa answered HTTP {resp.status}")
                payload: Any = await resp.json()
        except aiohttp.ClientConnectorError as err:
            raise BotNotReady(f"Rasa refused the connection: {err!r}") from err
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            raise BotUnavailable(f"Rasa call failed: {err!r}") from err
        if not isinstance(payload, list) or not payload:
            raise BotUnavailable("Rasa answered no message")
        return [_reply_from_rasa(item) for item in payload if isinstance(item, dict)]


def _reply_from_rasa(item: dict[str, Any]) -> Reply:
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or []
        if isinstance(b, dict)
    )
    custom = item.get("custom")
    return Reply(text=str(item.get("text") or ""), buttons=buttons, custom=custom if isinstance(custom, dict) else {})
