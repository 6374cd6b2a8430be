"""Outbound calls through Asterisk: an AMI Originate (panoramisk) into the FastAGI voice session.

The call is placed on the configured channel (e.g. `PJSIP/{number}@trunk`) and, once answered, enters
the dialplan context `OUTBOUND_AMI_CONTEXT` (deploy/asterisk/extensions_outbound.conf): `AMD()` tells a
person from an answering machine, then `AGI(${CC_AGI_URL}&amd=${AMDSTATUS})` runs the platform's
FastAGI server (connectors/voice/fastagi.py) with the attempt: a machine hears only the neutral "please
call the bank"; a person continues in the same voice session as inbound calls, with the same
verification before anything about an account is said. The channel's unique id is set by the
Originate (`ChannelId`), so the answered call's voice conversation is known before it is answered and a
survey call asks the survey instead of the greeting. Asynchronous Originate answers twice:
"successfully queued", then an OriginateResponse event: Success (answered), or a failure whose
reason says no answer / busy (tried again later) or anything else (final). No answer from Asterisk
at all within the timeout leaves the attempt `unknown`.

At most `OUTBOUND_MAX_CALLS` calls at once across workers (Redis slots, as for Twilio): a slot is
taken before the Originate, given back when the call is not answered, and for an answered call when
Asterisk reports the channel's `Hangup` event (any worker's AMI connection hears it; a slot never
given back expires after its time to live).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager

from connectors.voice.fastagi import CALL_ID_PREFIX as AGI_CALL_ID_PREFIX
from outbound.limits import SharedSlots
from outbound.models import Channel
from outbound.senders import FinalFailure, OutboundMessage, SendResult, Sent, TemporaryFailure, Unknown

logger = logging.getLogger(__name__)

# Asterisk's OriginateResponse reasons (channel.h AST_CONTROL_*): 3 no answer, 5 busy, 8 congestion.
_TRY_AGAIN_REASONS = frozenset({"3", "5", "8"})
_RING_MILLISECONDS = 30_000


@dataclass(frozen=True)
class AmiConfig:
    """Where the AMI listens and how calls are placed."""

    host: str
    port: int
    username: str
    secret: str
    channel: str  # "PJSIP/{number}@trunk": {number} is the customer's E.164 number
    agi_url: str  # "agi://127.0.0.1:4573/outbound"
    caller_id: str = ""
    # The dialplan context the answered call enters: AMD(), then AGI (deploy/asterisk/extensions_outbound.conf).
    context: str = "cc-outbound"


_CHANNEL_ID_PREFIX = "cc-"


def channel_id_of(attempt_id: str) -> str:
    """The unique id the Originate gives the call's channel: Asterisk's agi_uniqueid for the FastAGI session."""
    return _CHANNEL_ID_PREFIX + attempt_id


class AsteriskCallSender:
    """Places outbound calls with AMI Originate; one AMI connection per worker."""

    channel = Channel.CALL

    def __init__(self, config: AmiConfig, answer_timeout: float = 60.0, slots: SharedSlots | None = None) -> None:
        self.config = config
        self.answer_timeout = answer_timeout
        self.slots = slots
        self._manager: Manager | None = None

    async def _connected(self) -> Manager:
        if self._manager is None:
            manager = Manager(
                loop=asyncio.get_running_loop(),
                host=self.config.host,
                port=self.config.port,
                username=self.config.username,
                secret=self.config.secret,
                ping_delay=60,
            )
            manager.register_event("Hangup", self._hung_up)
            await manager.connect()
            await asyncio.sleep(0)  # the connection's callback sends the Login
            if manager.authenticated_future is not None:
                await asyncio.wait_for(manager.authenticated_future, self.answer_timeout)
            if not manager.authenticated:
                manager.close()
                raise OSError("the AMI refused the login")
            self._manager = manager
        return self._manager

    async def _hung_up(self, _manager: Manager, event: Any) -> None:
        """A call this platform placed ended: its line is free for the next one."""
        unique_id = str(event.get("Uniqueid", ""))
        if self.slots is not None and unique_id.startswith(_CHANNEL_ID_PREFIX):
            await self.slots.release(unique_id.removeprefix(_CHANNEL_ID_PREFIX))

    async def reserve(self, address: str) -> None:
        """Lines are counted when the call is placed (`slots`), not here."""

    async def send(self, message: OutboundMessage) -> SendResult:
        """Originate the call and wait for Asterisk to say whether it was answered."""
        kind = message.extra.get("kind", "")
        agi_url = f"{self.config.agi_url}?attempt={message.attempt_id}&lang={message.language}&kind={kind}"
        channel_id = channel_id_of(message.attempt_id)
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": self.config.channel.format(number=message.address.lstrip("+")),
            "Context": self.config.context,
            "Exten": "s",
            "Priority": "1",
            "ChannelId": channel_id,
            "Async": "true",
            "Timeout": str(_RING_MILLISECONDS),
            "Variable": [
                f"CC_OUTBOUND_ATTEMPT={message.attempt_id}",
                f"CC_OUTBOUND_KIND={kind}",
                f"CC_LANGUAGE={message.language}",
                f"CC_AGI_URL={agi_url}",
            ],
        }
        if self.config.caller_id:
            action["CallerID"] = self.config.caller_id
        if self.slots is not None and not await self.slots.try_acquire(message.attempt_id):
            return TemporaryFailure("every outbound line is busy", retry_after=60)
        result = await self._originate(action, channel_id)
        if self.slots is not None and not isinstance(result, Sent | Unknown):
            await self.slots.release(message.attempt_id)  # nobody answered: the line is free again
        return result

    async def _originate(self, action: dict[str, Any], channel_id: str) -> SendResult:
        try:
            manager = await self._connected()
            responses = await asyncio.wait_for(manager.send_action(action), self.answer_timeout)
        except (OSError, TimeoutError) as err:
            return Unknown(f"no answer from Asterisk: {err!r}")
        replies = responses if isinstance(responses, list) else [responses]
        first, last = replies[0], replies[-1]
        if str(first.get("Response", "")).lower() == "error":
            return FinalFailure(f"Asterisk refused the call: {first.get('Message', '')}")
        if str(last.get("Event", "")) != "OriginateResponse":
            return Unknown("Asterisk queued the call but did not say how it ended")
        if str(last.get("Response", "")) == "Success":
            # The call's voice conversation is the FastAGI session's, known by the channel id set above.
            return Sent(provider_id=str(last.get("Uniqueid", "")), channel_user_id=AGI_CALL_ID_PREFIX + channel_id)
        reason = str(last.get("Reason", ""))
        if reason in _TRY_AGAIN_REASONS:
            return TemporaryFailure(f"call not answered (Asterisk reason {reason})")
        return FinalFailure(f"call failed (Asterisk reason {reason})")

    async def close(self) -> None:
        """Close the AMI connection."""
        if self._manager is not None:
            self._manager.close()
            self._manager = None
