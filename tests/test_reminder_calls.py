"""A payment reminder by phone: the amount and due date only after the person proves who they are.

The outbound worker places the call through Twilio's Calls API (a local stand-in of api.twilio.com:
Twilio cannot be reached from here) and records the reminder in the call's voice conversation. When
Anna answers, Twilio brings the call to the phone line's webhook (signed as Twilio signs it): the line
says why it calls in neutral words and asks the last four digits of a card, the inbound line's check.
Her right ending brings the amount and the date, in Russian, then the reminder's answers as keys;
key 1 records "already paid". Someone else who picks up her phone and keys wrong endings hears nothing
of the debt and is passed to an operator.

Through the bank's own Asterisk the call is an AMI Originate (a scripted AMI peer) into the outbound
dialplan; the FastAGI session (a scripted Asterisk with the exact agi_ variables Asterisk sends) asks
the ending before anything else, even when answered before the worker has recorded the call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from connectors.twilio_outbound import CallSender, twilio_client
from core.db import Database
from core.stack import free_port
from handoff import transcript
from outbound import store
from outbound.delivery import Deliverer
from outbound.models import Attempt, AttemptState, Channel, Kind

from .channel_support import TWIML_TOKEN, AsteriskScript, scripted_rasa
from .outbound_support import NOON, MakeGateway, backend, bank_db, outbound_gateway, outbound_stack, pg
from .test_outbound_asterisk import deliver_answered_call
from .test_outbound_twilio import BANK_NUMBER, SID, TOKEN, nothing, twilio
from .test_survey_calls import PUBLIC, line

__all__ = ["bank_db", "outbound_gateway", "outbound_stack", "pg", "scripted_rasa", "twilio"]

Gateway = TestClient[web.Request, web.Application]
AMOUNT = "12\u00a0450"  # how the amount is written before the voice reads it
WRONG_ENDING = "Цифры не совпали."
DEBT_WORDS = ("12", "450", "декабр", "Потребительский кредит")


@pytest.fixture
async def gateway(outbound_gateway: MakeGateway) -> Gateway:
    return await outbound_gateway(twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)


async def reminder_call_for_anna(pool: store.Pool) -> Attempt:
    """A payment reminder to Anna by phone, queued for a worker."""
    attempt = Attempt(
        id=store.new_id("att"),
        kind=Kind.PAYMENT_REMINDER,
        customer_id="demo-anna",
        channel=Channel.CALL,
        state=AttemptState.QUEUED,
        earliest_at=NOON,
        data={"amount": "12450.00", "due_date": "2026-12-15", "product": "Потребительский кредит"},
    )
    await store.insert_attempts(pool, [attempt])
    return attempt


async def placed_by_twilio(pool: store.Pool, bank_db: Database, twilio_url: str) -> tuple[Attempt, str]:
    attempt = await reminder_call_for_anna(pool)
    calls = CallSender(twilio_client(SID, TOKEN, twilio_url), BANK_NUMBER, PUBLIC)
    deliverer = Deliverer(pool, bank_db, backend(bank_db), {Channel.CALL: calls}, nothing, clock=lambda: NOON)
    assert await deliverer.deliver(attempt.id) is AttemptState.SENT
    await calls.close()
    placed = await store.get_attempt(pool, attempt.id)
    assert placed is not None and placed.provider_id is not None
    return attempt, str(placed.provider_id)


def tells_of_the_debt(said: str) -> bool:
    return any(word in said for word in DEBT_WORDS) or "двенадцать" in said.lower()


async def test_anna_confirms_her_card_ending_then_hears_amount_and_date_and_says_she_paid(
    gateway: Gateway, pg: tuple[store.Pool, str], bank_db: Database, twilio: tuple[object, str]
) -> None:
    pool, _ = pg
    attempt, call_sid = await placed_by_twilio(pool, bank_db, twilio[1])

    first = await line(gateway, "/voice/twiml/incoming", call_sid)
    assert first.startswith("Мы звоним с напоминанием по одному из ваших продуктов.")
    assert not tells_of_the_debt(first)
    wrong = await line(gateway, "/voice/twiml/gather", call_sid, Digits="1111")
    assert wrong.startswith(WRONG_ENDING), wrong
    assert not tells_of_the_debt(wrong)

    told = await line(gateway, "/voice/twiml/gather", call_sid, Digits="4821")
    assert told.startswith("Спасибо, личность подтверждена.")
    assert "«Потребительский кредит» нужно внести двенадцать тысяч четыреста пятьдесят рублей" in told, told
    assert "до пятнадцать декабря две тысячи двадцать шесть" in told, "the date as the voice reads it"
    assert "Уже оплатил — нажмите 1." in told

    thanks = await line(gateway, "/voice/twiml/gather", call_sid, Digits="1")
    assert thanks.startswith("Спасибо! Отметили, что вы оплатили.")
    answered = await store.get_attempt(pool, attempt.id)
    assert answered is not None and answered.answer == "paid"


async def test_someone_else_on_annas_phone_hears_nothing_of_the_debt_and_gets_an_operator(
    gateway: Gateway, pg: tuple[store.Pool, str], bank_db: Database, twilio: tuple[object, str]
) -> None:
    pool, _ = pg
    _, call_sid = await placed_by_twilio(pool, bank_db, twilio[1])

    said = [await line(gateway, "/voice/twiml/incoming", call_sid)]
    for ending in ("1111", "2222", "3333"):
        said.append(await line(gateway, "/voice/twiml/gather", call_sid, Digits=ending))
    assert not any(tells_of_the_debt(s) for s in said), said
    assert "Соединяю с оператором" in said[-1]
    checks = [a["result"] async for a in bank_db.audit_log.find({"action": "identity.verify"})]
    assert checks == ["mismatch"] * 3


@pytest.fixture
async def pbx_gateway(outbound_gateway: MakeGateway, tmp_path: Path) -> tuple[Gateway, int]:
    """The gateway with its FastAGI server on a free port; the fixed prompts are named recordings."""
    port = free_port()
    client = await outbound_gateway(
        fastagi_port=port,
        fastagi_sounds_dir=str(tmp_path / "prompts"),
        fastagi_recordings=(
            "greeting=bank/greeting,outbound_opening=bank/outbound-opening,"
            "outbound_reminder=bank/reminder,verified=bank/verified"
        ),
    )
    return client, port


async def asterisk_reminder_call(
    agi_port: int, pool: store.Pool, bank_db: Database, *endings: str
) -> tuple[Attempt, list[str]]:
    """Anna's phone answers the reminder at once (AMD() heard a person) and keys `endings`, then `1`."""
    attempt = await reminder_call_for_anna(pool)
    keys = [f"200 result={e}" for e in (*endings, "1")]
    asterisk = AsteriskScript(answers={"GET DATA": keys})
    placed = f"outbound?attempt={attempt.id}&lang=ru&kind=payment_reminder&amd=HUMAN"
    _, commands = await deliver_answered_call(agi_port, pool, bank_db, attempt, asterisk, placed, hang_up_after=10)
    return attempt, commands


async def said_by_the_line(pool: store.Pool, bank_db: Database) -> list[str]:
    """The bot's words in the call's conversation after the worker's own record of the reminder."""
    [conversation] = [c async for c in bank_db.conversations.find({"channel": "voice"})]
    messages = await transcript.all_messages(bank_db, conversation["_id"])
    return [m["text"] for m in messages[1:] if m["author"] in ("bot", "system")]


async def test_anna_answers_the_reminder_through_asterisk_and_hears_it_after_her_card_ending(
    pbx_gateway: tuple[Gateway, int], pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    _, agi_port = pbx_gateway
    pool, _ = pg
    attempt, commands = await asterisk_reminder_call(agi_port, pool, bank_db, "4821")

    assert commands[0] == 'STREAM FILE bank/outbound-opening ""'
    asked = [c for c in commands if c.startswith("GET DATA")]
    assert asked[0] == "GET DATA bank/reminder 5000 4", "the card ending, four keys, before anything else"
    assert not any("bank/greeting" in c for c in commands), "the reminder, not the ordinary greeting"
    said = await said_by_the_line(pool, bank_db)
    assert any(AMOUNT in s and "15 декабря 2026" in s for s in said), said
    answered = await store.get_attempt(pool, attempt.id)
    assert answered is not None and answered.answer == "paid", "key 1 after the amount: already paid"


async def test_a_wrong_ending_through_asterisk_says_nothing_of_the_debt(
    pbx_gateway: tuple[Gateway, int], pg: tuple[store.Pool, str], bank_db: Database
) -> None:
    _, agi_port = pbx_gateway
    pool, _ = pg
    _, commands = await asterisk_reminder_call(agi_port, pool, bank_db, "1111", "2222", "3333")

    asked = [c for c in commands if c.startswith("GET DATA")]
    assert asked[0] == "GET DATA bank/reminder 5000 4", "the card ending, four keys, before anything else"
    said = await said_by_the_line(pool, bank_db)
    assert not any(AMOUNT in s or "декабр" in s for s in said), said
    [conversation] = [c async for c in bank_db.conversations.find({"channel": "voice"})]
    assert conversation["state"] == "queued", "three wrong endings: an operator, who sees the reminder"
