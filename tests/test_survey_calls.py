"""A survey by phone: the bank's call asks the questions, keys and speech answer them.

The outbound worker places the call through Twilio's Calls API (a local stand-in of api.twilio.com:
Twilio cannot be reached from here) and leaves the survey waiting in the call's voice conversation.
When the person answers, Twilio brings the call to the phone line's webhook (signed as Twilio signs
it): instead of the greeting the line asks the first question, a key answers it, 0 is a score on the
0-10 scale (not the operator key), and the comment is said. The answers are stored by the platform's
one survey mechanism, and the attempt counts as answered. The bot (a scripted Rasa) hears none of it.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.twilio_outbound import CallSender, twilio_client
from core.app import create_app
from core.db import Database
from core.keys import BUS_KEY
from outbound import store
from outbound.delivery import Deliverer
from outbound.models import Attempt, AttemptState, Channel, Kind

from .channel_support import TWIML_TOKEN, ScriptedRasa, channel_settings, scripted_rasa, twilio_signature
from .outbound_support import NOON, OutboundStack, backend, bank_db, outbound_stack, pg
from .test_outbound_twilio import BANK_NUMBER, SID, TOKEN, TwilioStandIn, nothing, twilio

__all__ = ["bank_db", "outbound_stack", "pg", "scripted_rasa", "twilio"]

PUBLIC = "https://bank.example"
Gateway = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(
    pg: tuple[store.Pool, str],
    bank_db: Database,
    scripted_rasa: tuple[ScriptedRasa, str],
    aiohttp_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    outbound_stack: OutboundStack,
) -> Gateway:
    monkeypatch.setenv("OUTBOUND_DATABASE_URL", pg[1])
    settings = channel_settings(
        outbound_stack.mongodb_uri,
        scripted_rasa[1],
        mongodb_db=bank_db.name,
        twiml_auth_token=TWIML_TOKEN,
        twiml_public_url=PUBLIC,
    )
    client: Gateway = await aiohttp_client(create_app(settings))
    return client


async def line(gateway: Gateway, path: str, call_sid: str, **fields: str) -> str:
    """What the phone line says, as Twilio posts the call's turn (signed) to the voice webhook."""
    form = {"CallSid": call_sid, "From": BANK_NUMBER, "To": "+79160000002", "CallStatus": "in-progress"} | fields
    signature = twilio_signature(TWIML_TOKEN, PUBLIC + path, form)
    resp = await gateway.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert resp.status == 200, await resp.text()
    spoken = ET.fromstring(await resp.text())  # noqa: S314 -- our own gateway's answer
    return " ".join(say.text or "" for say in spoken.iter("Say"))


async def test_anna_answers_a_survey_call_with_keys_and_words(
    gateway: Gateway,
    pg: tuple[store.Pool, str],
    bank_db: Database,
    twilio: tuple[TwilioStandIn, str],
    scripted_rasa: tuple[ScriptedRasa, str],
) -> None:
    pool, _ = pg
    _, twilio_url = twilio
    survey = {
        "questions": [
            {"id": "rating", "type": "rating_1_5"},
            {"id": "nps", "type": "nps_0_10"},
            {"id": "comment", "type": "comment"},
        ]
    }
    attempt = Attempt(
        id=store.new_id("att"),
        kind=Kind.SURVEY,
        customer_id="demo-anna",
        channel=Channel.CALL,
        state=AttemptState.QUEUED,
        earliest_at=NOON,
        data={"survey": survey},
    )
    await store.insert_attempts(pool, [attempt])
    calls = CallSender(twilio_client(SID, TOKEN, twilio_url), BANK_NUMBER, PUBLIC)
    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.CALL: calls}, nothing, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    await calls.close()
    placed = await store.get_attempt(pool, attempt.id)
    assert placed is not None and placed.provider_id is not None
    call_sid = str(placed.provider_id)

    # Anna picks up: Twilio's answer webhook redirects the call to the phone line.
    first = await line(gateway, "/voice/twiml/incoming", call_sid)
    assert first == (
        "Оцените, пожалуйста, нашу работу от одного до пяти, где пять — отлично. "
        "Нажмите цифру от одного до пяти или назовите оценку."
    )
    nps = await line(gateway, "/voice/twiml/gather", call_sid, Digits="4")
    assert nps.startswith("Насколько вероятно, что вы порекомендуете Демо-Банк")
    comment = await line(gateway, "/voice/twiml/gather", call_sid, Digits="0#")
    assert comment.startswith("Хотите что-нибудь добавить?")
    thanks = await line(gateway, "/voice/twiml/gather", call_sid, SpeechResult="долго ждала ответа", Confidence="0.9")
    assert thanks.startswith("Спасибо за ваши ответы!")

    answers = {a["question"]: a async for a in bank_db.survey_answers.find({"attempt_id": attempt.id})}
    assert (answers["rating"]["value"], answers["nps"]["value"]) == (4, 0)
    assert answers["comment"]["comment"] == "долго ждала ответа"
    assert {a["channel"] for a in answers.values()} == {"voice"}
    assert {a["customer_id"] for a in answers.values()} == {"demo-anna"}
    assert not any("долго ждала" in str(r.get("text")) for r in scripted_rasa[0].received), "the bot heard none"

    await gateway.app[BUS_KEY].drain()
    for _ in range(50):  # the answered mark is written by a bus listener
        answered = await store.get_attempt(pool, attempt.id)
        if answered is not None and answered.answer == "answered":
            break
        await asyncio.sleep(0.1)
    assert answered is not None and answered.answer == "answered"
