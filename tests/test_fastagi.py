"""Phone calls from Asterisk: a scripted Asterisk peer dials the gateway's FastAGI server over TCP."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import DB_KEY
from core.stack import free_port

from .channel_support import AsteriskScript, ScriptedRasa, asterisk_call, channel_settings, scripted_rasa
from .handoff_support import ferretdb

__all__ = ["ferretdb", "scripted_rasa"]

IVAN_PHONE = "+79160000001"
_FILE_RE = re.compile(r"^(?:STREAM FILE|GET DATA) (?P<file>\S+)")


@pytest.fixture
async def pbx(
    ferretdb: str, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any, tmp_path: Path
) -> tuple[TestClient[web.Request, web.Application], int, Path]:
    """The gateway with its FastAGI server; returns the client, the AGI port and the prompt folder."""
    if shutil.which("espeak-ng") is None:
        pytest.fail(
            "The FastAGI prompts are synthesized with espeak-ng, which is not installed: "
            "install the Debian package espeak-ng (scripts/setup installs it)."
        )
    port = free_port()
    sounds = tmp_path / "prompts"
    settings = channel_settings(
        ferretdb,
        scripted_rasa[1],
        fastagi_port=port,
        fastagi_sounds_dir=str(sounds),
        fastagi_recordings="greeting=bank/greeting,outbound_machine.en=bank/outbound-machine-en",
    )
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client, port, sounds


async def transcript_texts(client: TestClient[web.Request, web.Application], author: str) -> list[str]:
    db = client.app[DB_KEY]
    conversation = await db.conversations.find_one({"channel": "voice"})
    assert conversation is not None
    return [
        m["text"]
        async for m in db.messages.find({"conversation_id": conversation["_id"], "author": author}).sort("seq", 1)
    ]


async def test_balance_by_voice_over_fastagi(
    pbx: tuple[TestClient[web.Request, web.Application], int, Path], scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    client, port, sounds = pbx
    script = AsteriskScript(
        answers={
            "GET DATA": ["200 result= (timeout)", "200 result=5678"],
            "GET VARIABLE": ["200 result=1 (какой у меня баланс)"],
        }
    )
    commands = await asterisk_call(port, script, caller=IVAN_PHONE, uniqueid="1700000000.1")

    # Greeting: the language, then hello (the configured recording), the English offer, what the caller can do.
    assert commands[:3] == [
        'SET VARIABLE CC_LANGUAGE "ru"',
        'SET VARIABLE RECOGNIZED_TEXT ""',
        'STREAM FILE bank/greeting "0123456789*#"',
    ]
    assert re.fullmatch(r'STREAM FILE \S+/cc-[0-9a-f]{24} "0123456789\*#"', commands[3]), "barge-in allowed"
    assert re.fullmatch(r"GET DATA \S+/cc-[0-9a-f]{24} 5000 16", commands[4])
    assert commands[5] == "GET VARIABLE RECOGNIZED_TEXT"
    assert re.fullmatch(r"GET DATA \S+/cc-[0-9a-f]{24} 5000 4", commands[6]), "four card digits, keys only"
    assert (await transcript_texts(client, "bot")) == ["Баланс по картам:\n• Мир •••• 5678: 48\u00a0250,35\u00a0₽"]
    assert scripted_rasa[0].received[-1]["metadata"]["identity_method"] == "caller_id"
    # Answered, then silent: "anything else?", one reprompt, goodbye and the line hangs up.
    assert commands[-3:] == [f'STREAM FILE {commands[-3].split()[2]} ""', 'SET VARIABLE CC_NEXT "hangup"', "HANGUP"]
    assert sum(c.startswith("GET VARIABLE") for c in commands) == 3, "greeting, anything else, the reprompt"
    state = await client.app[DB_KEY].voice_calls.find_one({"_id": "agi:1700000000.1"})
    assert state is not None and state["end_reason"] == "silence_after_answer"

    prompt = Path(_FILE_RE.match(commands[6]).group("file") + ".wav")  # type: ignore[union-attr]
    assert prompt.parent == sounds.resolve()
    with wave.open(str(prompt)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() > 8000, "a spoken sentence lasts more than a second"


async def test_a_key_pressed_during_a_prompt_blocks_the_card(
    pbx: tuple[TestClient[web.Request, web.Application], int, Path],
) -> None:
    client, port, _ = pbx
    script = AsteriskScript(
        answers={
            # greeting: silence, then words; card digits; "1" pressed while "thank you" plays; confirm with 1.
            "GET DATA": ["200 result= (timeout)", "200 result=9012", "200 result= (timeout)", "200 result=1"],
            "GET VARIABLE": ["200 result=1 (заблокируйте карту)"],
            "STREAM": ["200 result=0 endpos=16000", "200 result=0 endpos=16000", "200 result=49 endpos=3200"],
        }
    )
    commands = await asterisk_call(port, script, caller=IVAN_PHONE, uniqueid="1700000000.2", hang_up_after=16)

    assert any(c.startswith("GET DATA silence/1 5000 15") for c in commands), "the rest of the keys after the '1'"
    assert (await transcript_texts(client, "customer"))[-2:] == ['/inform{"card_last4":"5678"}', "/affirm"]
    assert (await transcript_texts(client, "bot"))[-1] == "Карта Мир •••• 5678 заблокирована."


async def test_no_input_twice_then_the_call_returns_to_the_dialplan_for_the_queue(
    pbx: tuple[TestClient[web.Request, web.Application], int, Path],
) -> None:
    client, port, _ = pbx
    commands = await asterisk_call(port, AsteriskScript(), caller="+79990001122", uniqueid="1700000000.3")

    conversation = await client.app[DB_KEY].conversations.find_one({"channel": "voice"})
    assert conversation is not None and conversation["state"] in {"queued", "assigned"}
    assert commands[-2:] == [
        f'SET VARIABLE CC_CONVERSATION_ID "{conversation["_id"]}"',
        'SET VARIABLE CC_NEXT "transfer"',
    ]
    assert sum(c.startswith("GET DATA") for c in commands) == 3, "greeting and two reprompts"


async def test_the_caller_hangs_up_mid_turn(pbx: tuple[TestClient[web.Request, web.Application], int, Path]) -> None:
    client, port, _ = pbx
    commands = await asterisk_call(port, AsteriskScript(), caller=IVAN_PHONE, uniqueid="1700000000.4", hang_up_after=2)

    assert commands[:3] == [
        'SET VARIABLE CC_LANGUAGE "ru"',
        'SET VARIABLE RECOGNIZED_TEXT ""',
        'STREAM FILE bank/greeting "0123456789*#"',
    ]
    state = await client.app[DB_KEY].voice_calls.find_one({"_id": "agi:1700000000.4"})
    assert state is not None and state["end_reason"] == "caller_hangup"


async def test_a_dead_channel_answering_511_ends_the_call(
    pbx: tuple[TestClient[web.Request, web.Application], int, Path],
) -> None:
    client, port, _ = pbx
    script = AsteriskScript(answers={"GET DATA": ["511 Command Not Permitted on a dead channel or intercept routine"]})
    await asterisk_call(port, script, caller=IVAN_PHONE, uniqueid="1700000000.5")

    state = await client.app[DB_KEY].voice_calls.find_one({"_id": "agi:1700000000.5"})
    assert state is not None and state["end_reason"] == "caller_hangup"


async def test_an_answering_machine_on_a_call_the_bank_placed_hears_only_please_call_back(
    pbx: tuple[TestClient[web.Request, web.Application], int, Path], scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    """The outbound dialplan's AMD() heard a machine: the neutral message, nothing about the debt, no bot."""
    client, port, _ = pbx
    placed = "outbound?attempt=att_reminder1&lang=en&kind=payment_reminder&amd=MACHINE"
    heard_before = len(scripted_rasa[0].received)
    commands = await asterisk_call(
        port,
        AsteriskScript(),
        caller="74950000000",
        uniqueid="cc-att_reminder1",
        agi_script=placed,
        context="cc-outbound",
    )

    assert commands == ['STREAM FILE bank/outbound-machine-en ""', 'SET VARIABLE CC_NEXT "hangup"', "HANGUP"]
    assert len(scripted_rasa[0].received) == heard_before, "the bot heard nothing"
    assert await client.app[DB_KEY].conversations.count_documents({"channel": "voice"}) == 0
