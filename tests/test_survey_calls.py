"""A survey by phone: the bank's call asks the questions, keys and speech answer them.

The outbound worker places the call through Twilio's Calls API (a local stand-in of api.twilio.com:
Twilio cannot be reached from here) and leaves the survey waiting in the call's voice conversation.
When the person answers, Twilio brings the call to the phone line's webhook (signed as Twilio signs
it): instead of the greeting the line asks the first question, a key answers it, 0 is a score on the
0-10 scale (not the operator key), and the comment is said. The answers are stored by the platform's
one survey mechanism, and the attempt counts as answered. The bot (a scripted Rasa) hears none of it.

Through the bank's own Asterisk the call is an AMI Originate (a scripted AMI peer) into the outbound
dialplan, whose AMD() heard a person; the FastAGI session (a scripted Asterisk dialling the gateway's
FastAGI port with the exact agi_ variables Asterisk sends) asks the survey, not the greeting, even
when the person answers before the worker has recorded the call.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.twilio_outbound import CallSender, twilio_client
from core.db import Database
from core.keys import BUS_KEY
from core.stack import free_port
from outbound import store
from outbound.delivery import Deliverer
from outbound.models import Attempt, AttemptState, Channel, Kind

from .channel_support import TWIML_TOKEN, AsteriskScript, ScriptedRasa, scripted_rasa, twilio_signature
from .outbound_support import (
    NOON,
    MakeGateway,
    backend,
    bank_db,
    outbound_gateway,
    outbound_stack,
    pg,
)
from .test_outbound_asterisk import deliver_answered_call
from .test_outbound_twilio import BANK_NUMBER, SID, TOKEN, TwilioStandIn, nothing, twilio

__all__ = ["bank_db", "outbound_gateway", "outbound_stack", "pg", "scripted_rasa", "twilio"]

PUBLIC = "https://bank.example"
Gateway = TestClient[web.Request, web.Application]


@pytest.fixture
async def gateway(outbound_gateway: MakeGateway) -> Gateway:
    return await outbound_gateway(twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)


async def survey_call_for_anna(pool: store.Pool, survey: dict[str, Any]) -> Attempt:
    """A survey campaign's call to Anna, queued for a worker."""
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
    return attempt


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
    attempt = await survey_call_for_anna(pool, survey)
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


@pytest.fixture
async def pbx_gateway(outbound_gateway: MakeGateway, tmp_path: Path) -> tuple[Gateway, int]:
    """The gateway with its FastAGI server on a free port; the line's greeting is a named recording."""
    port = free_port()
    client = await outbound_gateway(
        fastagi_port=port,
        fastagi_sounds_dir=str(tmp_path / "prompts"),
        fastagi_recordings="greeting=bank/greeting,outbound_opening=bank/outbound-opening",
    )
    return client, port


async def test_anna_answers_a_survey_call_placed_through_asterisk_before_the_worker_recorded_it(
    pbx_gateway: tuple[Gateway, int], pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    _, agi_port = pbx_gateway
    pool, _ = pg
    survey = {"questions": [{"id": "rating", "type": "rating_1_5"}, {"id": "comment", "type": "comment"}]}
    attempt = await survey_call_for_anna(pool, survey)

    # Anna picks up at once; AMD() hears a person and the dialplan runs the AGI URL the Originate carries.
    asterisk = AsteriskScript(
        answers={"GET DATA": ["200 result=4", "200 result= (timeout)"], "GET VARIABLE": ["200 result=1 (всё понятно)"]}
    )
    placed = f"outbound?attempt={attempt.id}&lang=ru&kind=survey&amd=HUMAN"
    ami, commands = await deliver_answered_call(agi_port, pool, bank_db, attempt, asterisk, placed, hang_up_after=12)

    originate = ami.actions[1]
    url = f"agi://127.0.0.1:{agi_port}/outbound?attempt={attempt.id}&lang=ru&kind=survey"
    assert f"CC_AGI_URL={url}" in originate["Variable"]
    assert commands[0] == 'STREAM FILE bank/outbound-opening ""'
    assert not any("bank/greeting" in c for c in commands), "the survey, not the ordinary greeting"
    answers = {a["question"]: a async for a in bank_db.survey_answers.find({"attempt_id": attempt.id})}
    assert answers["rating"]["value"] == 4 and answers["comment"]["comment"] == "всё понятно"
    assert {a["channel"] for a in answers.values()} == {"voice"}
