"""Outbound calls through Asterisk's AMI (panoramisk), against a scripted AMI peer on a local port.

No Asterisk runs here: the peer speaks the Manager protocol as Asterisk does (banner, Login, the
FullyBooted event, an asynchronous Originate answered "successfully queued" and then by an
OriginateResponse event), and records each action it received.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from connectors.asterisk_outbound import AmiConfig, AsteriskCallSender, channel_id_of
from core.db import Database
from outbound import store
from outbound.delivery import Deliverer
from outbound.limits import SharedSlots
from outbound.models import Attempt, AttemptState, Channel
from outbound.senders import OutboundMessage, Sent, TemporaryFailure

from .channel_support import AsteriskScript, asterisk_call
from .outbound_support import NOON, backend
from .test_handoff_two_gateways import redis_url
from .test_outbound_twilio import nothing

__all__ = ["redis_url"]


class ScriptedAmi:
    """An AMI peer: answers Login, then each Originate with the next scripted OriginateResponse."""

    def __init__(self, outcomes: list[dict[str, str]]) -> None:
        self.outcomes = outcomes
        self.actions: list[dict[str, list[str]]] = []
        self.server: asyncio.Server | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.session, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(fields: dict[str, str]) -> None:
            writer.write(("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode())

        self.writer = writer
        writer.write(b"Asterisk Call Manager/5.0.1\r\n")
        while True:
            block = await reader.readuntil(b"\r\n\r\n")
            action: dict[str, list[str]] = {}
            for line in block.decode().strip().split("\r\n"):
                key, _, value = line.partition(": ")
                action.setdefault(key, []).append(value)
            self.actions.append(action)
            action_id = action["ActionID"][0]
            name = action["Action"][0]
            if name == "Login":
                send({"Response": "Success", "ActionID": action_id, "Message": "Authentication accepted"})
                send({"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"})
            elif name == "Originate":
                send({"Response": "Success", "ActionID": action_id, "Message": "Originate successfully queued"})
                outcome = self.outcomes.pop(0)
                if outcome["Response"] == "Success" and "ChannelId" in action:
                    # The channel Asterisk created carries the unique id the Originate asked for.
                    outcome = outcome | {"Uniqueid": action["ChannelId"][0]}
                send({"Event": "OriginateResponse", "Privilege": "call,all", "ActionID": action_id, **outcome})
            else:
                send({"Response": "Success", "ActionID": action_id, "Ping": "Pong"})
            await writer.drain()

    async def hang_up(self, unique_id: str) -> None:
        """The callee hangs up: Asterisk tells every AMI session with the call privilege."""
        assert self.writer is not None
        event = {"Event": "Hangup", "Privilege": "call,all", "Channel": "PJSIP/trunk-00000001", "Uniqueid": unique_id}
        event |= {"Cause": "16", "Cause-txt": "Normal Clearing"}
        self.writer.write(("".join(f"{k}: {v}\r\n" for k, v in event.items()) + "\r\n").encode())
        await self.writer.drain()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


async def answering_pbx(agi_port: int) -> tuple[ScriptedAmi, AsteriskCallSender]:
    """The bank's Asterisk, where the customer picks up at once; its dialplan runs the FastAGI session on `agi_port`."""
    ami = ScriptedAmi([{"Response": "Success", "Channel": "PJSIP/trunk-00000007", "Uniqueid": "?", "Reason": "4"}])
    config = AmiConfig(
        host="127.0.0.1",
        port=await ami.start(),
        username="contact-center",
        secret="ami-secret-for-tests",
        channel="PJSIP/{number}@trunk",
        agi_url=f"agi://127.0.0.1:{agi_port}/outbound",
    )
    return ami, AsteriskCallSender(config, answer_timeout=10)


async def deliver_answered_call(
    agi_port: int,
    pool: store.Pool,
    bank_db: Database,
    attempt: Attempt,
    asterisk: AsteriskScript,
    agi_script: str,
    hang_up_after: int,
) -> tuple[ScriptedAmi, list[str]]:
    """A worker places the attempt's call through `answering_pbx`; the customer picks up at once and the line runs
    `agi_script` (the dialplan's AGI URL) with `asterisk`'s answers. Returns the AMI peer (its actions) and the
    commands the line sent."""
    ami, calls = await answering_pbx(agi_port)
    answered = asyncio.create_task(
        asterisk_call(
            agi_port,
            asterisk,
            caller="74950000000",
            uniqueid=channel_id_of(attempt.id),
            agi_script=agi_script,
            context="cc-outbound",
            hang_up_after=hang_up_after,
        )
    )
    await asyncio.sleep(0.3)
    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.CALL: calls}, nothing, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    await calls.close()
    await ami.close()
    return ami, await answered


@pytest.fixture
async def ami() -> AsyncIterator[ScriptedAmi]:
    peer = ScriptedAmi(
        [
            {"Response": "Success", "Channel": "PJSIP/trunk-00000001", "Uniqueid": "1733500000.42", "Reason": "4"},
            {"Response": "Failure", "Channel": "PJSIP/trunk-00000002", "Uniqueid": "<null>", "Reason": "5"},
        ]
    )
    yield peer
    await peer.close()


async def test_an_answered_call_enters_the_dialplan_with_amd_and_a_busy_line_is_tried_again_later(
    ami: ScriptedAmi,
) -> None:
    port = await ami.start()
    config = AmiConfig(
        host="127.0.0.1",
        port=port,
        username="contact-center",
        secret="ami-secret-for-tests",
        channel="PJSIP/{number}@trunk",
        agi_url="agi://127.0.0.1:4573/outbound",
        caller_id="Demo Bank <74950000000>",
    )
    sender = AsteriskCallSender(config, answer_timeout=10)
    message = OutboundMessage("att_1", Channel.CALL, "+79160000002", "", "ru", extra={"kind": "survey"})
    answered = await sender.send(message)
    busy = await sender.send(OutboundMessage("att_2", Channel.CALL, "+79160000002", "", "en"))
    await sender.close()

    # The answered call's voice conversation is the FastAGI session of the channel id the Originate set.
    assert answered == Sent(provider_id="cc-att_1", channel_user_id="agi:cc-att_1")
    assert isinstance(busy, TemporaryFailure) and "reason 5" in busy.error
    login, originate = ami.actions[0], ami.actions[1]
    assert login["Username"] == ["contact-center"] and login["Secret"] == ["ami-secret-for-tests"]
    assert originate["Channel"] == ["PJSIP/79160000002@trunk"]
    # Into the dialplan context that runs AMD() before the AGI (deploy/asterisk/extensions_outbound.conf).
    assert (originate["Context"], originate["Exten"], originate["Priority"]) == (["cc-outbound"], ["s"], ["1"])
    assert originate["ChannelId"] == ["cc-att_1"] and "Application" not in originate
    assert originate["Async"] == ["true"] and originate["CallerID"] == ["Demo Bank <74950000000>"]
    assert originate["Variable"] == [
        "CC_OUTBOUND_ATTEMPT=att_1",
        "CC_OUTBOUND_KIND=survey",
        "CC_LANGUAGE=ru",
        "CC_AGI_URL=agi://127.0.0.1:4573/outbound?attempt=att_1&lang=ru&kind=survey",
    ]


def test_the_shipped_dialplan_detects_machines_before_the_agi_and_passes_the_verdict() -> None:
    """The context the Originate names exists, runs AMD() first and hands AMDSTATUS to the FastAGI session."""
    dialplan = (Path(__file__).resolve().parent.parent / "deploy" / "asterisk" / "extensions_outbound.conf").read_text()
    steps = [line.split("=>", 1)[1].strip() for line in dialplan.splitlines() if "=>" in line]
    assert "[cc-outbound]" in dialplan
    amd = next(i for i, step in enumerate(steps) if ",AMD()" in step)
    agi = next(i for i, step in enumerate(steps) if "AGI(${CC_AGI_URL}&amd=${AMDSTATUS})" in step)
    assert amd < agi


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_one_line_carries_one_call_until_asterisk_says_it_hung_up(redis: Redis) -> None:
    """OUTBOUND_MAX_CALLS across workers: the Originate waits for a free line, the Hangup event frees it."""
    answered = {"Response": "Success", "Channel": "PJSIP/trunk-00000003", "Uniqueid": "?", "Reason": "4"}
    peer = ScriptedAmi([answered, answered])
    config = AmiConfig(
        host="127.0.0.1",
        port=await peer.start(),
        username="contact-center",
        secret="ami-secret-for-tests",
        channel="PJSIP/{number}@trunk",
        agi_url="agi://127.0.0.1:4573/outbound",
    )
    slots = SharedSlots(redis, f"calls-{uuid.uuid4().hex[:6]}", limit=1)
    sender = AsteriskCallSender(config, answer_timeout=10, slots=slots)
    try:
        first = await sender.send(OutboundMessage("att_a", Channel.CALL, "+79160000002", "", "ru"))
        busy = await sender.send(OutboundMessage("att_b", Channel.CALL, "+79160000003", "", "ru"))
        assert isinstance(first, Sent)
        assert isinstance(busy, TemporaryFailure) and busy.error == "every outbound line is busy"
        assert sum(a["Action"] == ["Originate"] for a in peer.actions) == 1, "no call placed without a line"

        await peer.hang_up(channel_id_of("att_a"))
        for _ in range(50):
            if await slots.try_acquire("probe"):
                await slots.release("probe")
                break
            await asyncio.sleep(0.1)
        second = await sender.send(OutboundMessage("att_b", Channel.CALL, "+79160000003", "", "ru"))
        assert isinstance(second, Sent) and second.channel_user_id == "agi:cc-att_b"
    finally:
        await sender.close()
        await peer.close()
