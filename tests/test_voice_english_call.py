"""An English-speaking caller on the Russian-first phone line, against the real platform (FerretDB, actions, Rasa).

Ivan calls twice through the signed TwiML webhook: he chooses English with key 9,
hears his balance after typing a card ending, asks a knowledge-base question and
asks for a person; his next call is greeted in English first. Then the same
through Asterisk's FastAGI, where he chooses English by key while the greeting plays.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.keys import DB_KEY
from core.stack import Stack, free_port

from .channel_support import TWIML_TOKEN, AsteriskScript, asterisk_call, twilio_signature
from .handoff_support import gateway_settings

PUBLIC = "https://bank.example"
IVAN_PHONE = "+79160000001"
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")

Gateway = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(stack: Stack, aiohttp_client: Any, tmp_path: Path) -> tuple[Gateway, int]:
    """The gateway on the real platform with the TwiML webhook and FastAGI (a recognizer variable per language)."""
    port = free_port()
    settings = gateway_settings(
        stack,
        "english_call",
        twiml_auth_token=TWIML_TOKEN,
        twiml_public_url=PUBLIC,
        fastagi_port=port,
        fastagi_sounds_dir=str(tmp_path / "prompts"),
        fastagi_speech_variable="ru=SPEECH_RU,en=SPEECH_EN",
    )
    client: Gateway = await aiohttp_client(create_app(settings))
    return client, port


class Call:
    """One call as Twilio drives it: signed form posts, TwiML back."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway, self.sid = gateway, "CA" + uuid.uuid4().hex

    async def _post(self, path: str, **fields: str) -> ET.Element:
        form = {"CallSid": self.sid, "From": IVAN_PHONE, "To": "+78000000000", "CallStatus": "in-progress"} | fields
        headers = {"X-Twilio-Signature": twilio_signature(TWIML_TOKEN, PUBLIC + path, form)}
        resp = await self.gateway.post(path, data=form, headers=headers)
        assert resp.status == 200, await resp.text()
        return ET.fromstring(await resp.text())  # noqa: S314 -- our own gateway's answer

    async def rings(self) -> ET.Element:
        return await self._post("/voice/twiml/incoming", CallStatus="ringing")

    async def says(self, words: str) -> ET.Element:
        return await self._post("/voice/twiml/gather", SpeechResult=words, Confidence="0.9")

    async def presses(self, digits: str) -> ET.Element:
        return await self._post("/voice/twiml/gather", Digits=digits)


def said(response: ET.Element) -> list[tuple[str, str]]:
    """(voice language, text) of every <Say>."""
    return [(say.attrib["language"], say.text or "") for say in response.iter("Say")]


def spoken(response: ET.Element) -> str:
    return " ".join(text for _, text in said(response))


def recognizer(response: ET.Element) -> str:
    gather = response.find("Gather")
    assert gather is not None, ET.tostring(response, encoding="unicode")
    return gather.attrib["language"]


async def voice_conversation(gateway: Gateway) -> dict[str, Any]:
    conversation = await gateway.app[DB_KEY].conversations.find_one({"channel": "voice"})
    assert conversation is not None
    return dict(conversation)


async def test_ivan_chooses_english_and_is_greeted_in_english_on_his_next_call(
    gateway: tuple[Gateway, int],
) -> None:
    client, _ = gateway
    call = Call(client)
    greeting = await call.rings()
    assert recognizer(greeting) == "ru-RU"
    assert ("en-US", "For English, press 9, or say: English.") in said(greeting)

    english = await call.presses("9")
    assert recognizer(english) == "en-US"
    assert said(english) == [
        ("en-US", "Hello, you have reached Demo Bank."),
        ("ru-RU", "Для русского языка нажмите 9 или скажите: по-русски."),
        ("en-US", "Tell me how I can help. To speak to an operator, press 0."),
    ]

    ask = await call.says("what is my balance")
    assert spoken(ask) == "To continue, please confirm it is you: type the last four digits of any of your cards."
    balance = await call.presses("5678")
    text = spoken(balance)
    assert text.startswith(
        "Thank you, you are verified. Your products: Mir ending in five six seven eight: "
        "forty-eight thousand two hundred and fifty roubles and thirty-five kopeks."
    ), text
    assert text.endswith("Is there anything else I can help you with?")
    assert {lang for lang, _ in said(balance)} == {"en-US"} and not _CYRILLIC.search(text)

    answer = await call.says("how do I activate my new card")
    assert spoken(answer).startswith("To activate your card, set a PIN in the mobile app."), spoken(answer)
    assert recognizer(answer) == "en-US"

    transfer = await call.says("operator please")
    assert transfer.find("Gather") is None and transfer.find("Enqueue") is not None
    assert spoken(transfer).endswith("Connecting you to an operator. Please stay on the line.")
    conversation = await voice_conversation(client)
    assert conversation["language"] == "en", "the console shows the conversation in English"
    assert conversation["state"] in {"queued", "assigned"}

    next_call = await Call(client).rings()
    assert recognizer(next_call) == "en-US", "English is offered first to the number that chose it"
    assert said(next_call)[:2] == [
        ("en-US", "Hello, you have reached Demo Bank."),
        ("ru-RU", "Для русского языка нажмите 9 или скажите: по-русски."),
    ]


async def test_ivan_says_english_please_and_says_goodbye(gateway: tuple[Gateway, int]) -> None:
    client, _ = gateway
    call = Call(client)
    await call.rings()
    english = await call.says("English, please")
    assert recognizer(english) == "en-US"
    assert spoken(english).startswith("Hello, you have reached Demo Bank.")

    goodbye = await call.says("thank you, goodbye")
    assert goodbye.find("Gather") is None and goodbye.find("Hangup") is not None
    assert spoken(goodbye).endswith("Thank you for calling Demo Bank. Goodbye!")
    state = await client.app[DB_KEY].voice_calls.find_one({"_id": "twiml:" + call.sid})
    assert state is not None and state["end_reason"] == "goodbye"


async def test_ivan_chooses_english_on_the_asterisk_line(gateway: tuple[Gateway, int]) -> None:
    client, port = gateway
    script = AsteriskScript(
        answers={
            # Key 9 during the English offer; the English greeting passes in silence; then the card ending.
            "STREAM": ["200 result=0 endpos=16000", "200 result=57 endpos=4000"],
            "GET DATA": ["200 result= (timeout)", "200 result= (timeout)", "200 result=5678"],
            "GET VARIABLE": [
                "200 result=1 (what is my balance)",
                "200 result=1 (how do I activate my new card)",
                "200 result=1 (operator please)",
            ],
        }
    )
    commands = await asterisk_call(port, script, caller=IVAN_PHONE, uniqueid="1700000100.1")

    switched = commands.index('SET VARIABLE CC_LANGUAGE "en"')
    assert commands[0] == 'SET VARIABLE CC_LANGUAGE "ru"' and switched > 0
    assert "GET VARIABLE SPEECH_EN" in commands[switched:]
    assert "GET VARIABLE SPEECH_RU" not in commands[switched:], "the English recognizer's words are read"
    conversation = await voice_conversation(client)
    assert commands[-2:] == [
        f'SET VARIABLE CC_CONVERSATION_ID "{conversation["_id"]}"',
        'SET VARIABLE CC_NEXT "transfer"',
    ]
    assert conversation["language"] == "en"
    db = client.app[DB_KEY]
    bot = [m["text"] async for m in db.messages.find({"conversation_id": conversation["_id"], "author": "bot"})]
    assert bot[0].startswith("Your products:\n• Мир •••• 5678: RUB\u00a048,250.35"), bot
    assert any(t.startswith("To activate your card, set a PIN") for t in bot), bot
    chosen = await db.voice_callers.find_one({"_id": IVAN_PHONE})
    assert chosen is not None and chosen["language"] == "en", "the number remembers English"
