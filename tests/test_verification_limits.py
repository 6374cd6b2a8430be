"""Nobody guesses a card ending: checks are limited per customer on every path and per operator.

On a private FerretDB with the demo bank (the ledger's unique-key places are what keeps the
count exact there) and, for the phone line, through the TwiML webhooks of a real gateway app
(Twilio's form posts replayed with a valid signature; the bot is the scripted stand-in, since
the digits never reach the bot).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from core.app import create_app
from core.banking import Card, MongoBankingBackend
from core.db import Database
from core.demo_data import seed_demo_bank
from core.keys import DB_KEY
from handoff import verify_limits
from handoff.bus import EventBus
from handoff.verification import Verification, VerificationError

from .channel_support import TWIML_TOKEN, ScriptedRasa, channel_settings, scripted_rasa
from .handoff_support import Clock, bus, clock, customer_conversation, db, ferretdb, mongo
from .test_twiml_channel import PUBLIC, Call, gather_of, spoken

__all__ = ["bus", "clock", "db", "ferretdb", "mongo", "scripted_rasa"]

ANNA_PHONE = "+79160000002"
ANNA = "customer:demo-anna"
ANNAS_CARDS = ("4821", "7755")
ROUNDS = 5
GUESSERS = 50


class CountingBank(MongoBankingBackend):
    """The demo bank on FerretDB, counting how often a customer's cards were looked at (each look is a check)."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.looks: dict[str, int] = {}

    async def list_cards(self, customer_id: str) -> list[Card]:
        self.looks[customer_id] = self.looks.get(customer_id, 0) + 1
        return await super().list_cards(customer_id)


@pytest.fixture
async def bank(db: Database) -> CountingBank:
    await seed_demo_bank(db)
    await verify_limits.ensure_indexes(db)
    return CountingBank(db)


async def _guess(verifier: Verification, conversation: Any, operator: str, last4: str, clock: Clock) -> str:
    try:
        await verifier.verify_by_card_digits(conversation, operator, phone=ANNA_PHONE, last4=last4, now=clock())
    except VerificationError as err:
        return err.code
    return "verified"


async def test_fifty_simultaneous_guesses_look_at_the_cards_at_most_three_times(
    db: Database, bus: EventBus, clock: Clock, bank: CountingBank
) -> None:
    conversation = await customer_conversation(db, bus, clock, "anna-guest")
    verifier = Verification(db, bus, bank)
    for round_ in range(ROUNDS):
        bank.looks.clear()
        guesses = [f"{(round_ * GUESSERS + i) % 10000:04d}" for i in range(GUESSERS)]
        guesses = [g if g not in ANNAS_CARDS else "0000" for g in guesses]
        # Fifty operators (so no operator's own limit is what stops them), all at once.
        codes = await asyncio.gather(
            *(_guess(verifier, conversation, f"guesser{i}", last4, clock) for i, last4 in enumerate(guesses))
        )
        assert bank.looks.get("demo-anna") == verify_limits.CUSTOMER_POLICY.failures, f"round {round_}: {codes}"
        # The three that looked hear "wrong" or, once the lock is on, "locked"; the others were refused unseen.
        assert set(codes) <= {"verification_locked", "wrong_digits"}, codes
        assert codes.count("verification_locked") >= GUESSERS - verify_limits.CUSTOMER_POLICY.failures + 1
        failed = await db.verify_attempts.count_documents({"subject": ANNA, "result": "failed"})
        assert failed == (round_ + 1) * verify_limits.CUSTOMER_POLICY.failures
        # A supervisor lifts the lock (as after a branch visit): the next round starts afresh.
        await verify_limits.lift(db, ANNA, by="supervisor:sveta", now=clock())
        clock.advance(1)


async def test_three_wrong_endings_lock_for_a_growing_time_and_the_right_one_then_starts_afresh(
    db: Database, bus: EventBus, clock: Clock, bank: CountingBank
) -> None:
    conversation = await customer_conversation(db, bus, clock, "anna-guest")
    verifier = Verification(db, bus, bank)
    wrong = iter(f"{n:04d}" for n in range(1000, 2000))

    async def attempt(last4: str, operator: str = "kate") -> tuple[str, dict[str, object]]:
        try:
            await verifier.verify_by_card_digits(conversation, operator, phone=ANNA_PHONE, last4=last4, now=clock())
        except VerificationError as err:
            return err.code, err.details
        return "verified", {}

    assert await attempt(next(wrong)) == ("wrong_digits", {"attempts_left": 2})
    assert await attempt(next(wrong)) == ("wrong_digits", {"attempts_left": 1})
    code, details = await attempt(next(wrong))
    assert code == "verification_locked"
    assert details["locked_until"] == (clock() + timedelta(minutes=15)).isoformat()
    # Locked: even the right ending is not looked at, whoever asks.
    looks = bank.looks["demo-anna"]
    assert (await attempt("4821", operator="olga"))[0] == "verification_locked"
    assert bank.looks["demo-anna"] == looks

    clock.advance(16 * 60)
    assert await attempt(next(wrong), operator="olga") == ("wrong_digits", {"attempts_left": 2})
    await attempt(next(wrong), operator="olga")
    code, details = await attempt(next(wrong), operator="olga")
    assert (code, details["locked_until"]) == ("verification_locked", (clock() + timedelta(hours=1)).isoformat())

    clock.advance(61 * 60)
    assert await attempt("4821", operator="olga") == ("verified", {})
    assert (await verify_limits.standing(db, ANNA, clock())).attempts_left == 3, "a success starts afresh"

    # The customer was told, in their conversation, why and how to get help; the supervisors were alerted.
    told = await db.messages.find({"conversation_id": conversation.id, "author": "system"}).to_list()
    assert len([m for m in told if "отделение с паспортом" in m["text"]]) == 2, "once per lock"
    alerts = await db.verification_alerts.find({"subject": ANNA}).to_list()
    assert len(alerts) == 2
    audit = await db.audit_log.find({"customer_id": "demo-anna"}).sort("at", 1).to_list()
    assert [r["result"] for r in audit if r["action"] == "identity.verify"].count("mismatch") == 6
    assert [r["result"] for r in audit if r["action"] == "identity.verify"].count("refused_locked") == 1
    assert sum(r["action"] == "identity.locked" for r in audit) == 2


async def test_an_operator_guessing_across_customers_is_stopped_and_a_supervisor_resumes_them(
    db: Database, bus: EventBus, clock: Clock, bank: CountingBank
) -> None:
    conversation = await customer_conversation(db, bus, clock, "someone")
    verifier = Verification(db, bus, bank)
    numbers = [f"+7916555{n:04d}" for n in range(verify_limits.OPERATOR_POLICY.failures)]
    for number in numbers:  # numbers nobody has: each counts against the operator only
        with pytest.raises(VerificationError) as miss:
            await verifier.verify_by_card_digits(conversation, "mallory", phone=number, last4="1111", now=clock())
    assert miss.value.code == "verification_stopped"
    with pytest.raises(VerificationError) as stopped:
        await verifier.verify_by_card_digits(conversation, "mallory", phone=ANNA_PHONE, last4="4821", now=clock())
    assert stopped.value.code == "verification_stopped"
    assert "demo-anna" not in bank.looks, "a stopped operator's check never reaches the bank's records"
    alerts = await verify_limits.active_alerts(db, clock())
    assert [a["subject"] for a in alerts] == ["operator:mallory"]

    # A colleague still verifies Anna; a supervisor resumes Mallory, and the lift is counted in the ledger.
    assert await verifier.verify_by_card_digits(conversation, "kate", phone=ANNA_PHONE, last4="4821", now=clock()) == (
        "demo-anna"
    )
    await verify_limits.lift(db, "operator:mallory", by="supervisor:sveta", now=clock())
    assert await verify_limits.active_alerts(db, clock()) == []
    assert (await verify_limits.standing(db, "operator:mallory", clock())).attempts_left == 6


# --- The phone line: the lock holds across calls, and failed phone checks are audited ---------------------------


@pytest.fixture
async def phone_line(
    ferretdb: str, scripted_rasa: tuple[ScriptedRasa, str], aiohttp_client: Any
) -> TestClient[web.Request, web.Application]:
    settings = channel_settings(ferretdb, scripted_rasa[1], twiml_auth_token=TWIML_TOKEN, twiml_public_url=PUBLIC)
    client: TestClient[web.Request, web.Application] = await aiohttp_client(create_app(settings))
    return client


async def test_a_caller_who_keys_three_wrong_endings_is_locked_on_the_next_call_too(
    phone_line: TestClient[web.Request, web.Application], scripted_rasa: tuple[ScriptedRasa, str]
) -> None:
    first = Call(phone_line, ANNA_PHONE, "CA" + "a" * 32)
    await first.rings()
    await first.says("какой у меня баланс")
    assert "Цифры не совпали" in spoken(await first.presses("0001"))
    assert "Цифры не совпали" in spoken(await first.presses("0002"))
    locked = await first.presses("0003")
    assert "проверка по цифрам карты временно приостановлена" in spoken(locked)
    assert locked.find("Gather") is None, "the caller goes to an operator"

    # Four more calls later, with the right ending: the line does not even ask for digits.
    for n in range(4):
        again = Call(phone_line, ANNA_PHONE, f"CA{n}" + "b" * 31)
        await again.rings()
        answer = await again.says("какой у меня баланс")
        assert "проверка по цифрам карты временно приостановлена" in spoken(answer)
        assert "последние четыре цифры" not in spoken(answer)
    assert not any(m["metadata"].get("customer_id") for m in scripted_rasa[0].received), "nobody was verified"

    db = phone_line.app[DB_KEY]
    audit = await db.audit_log.find({"customer_id": "demo-anna", "channel": "voice"}).to_list()
    assert [r["result"] for r in audit if r["action"] == "identity.verify"] == ["mismatch"] * 3
    assert all(r["actor"].startswith("caller:twiml:") for r in audit)
    assert [a["subject"] for a in await verify_limits.active_alerts(db, audit[-1]["at"])] == [ANNA]

    # After a supervisor lifts the lock, the right ending verifies again.
    await verify_limits.lift(db, ANNA, by="supervisor:sveta", now=audit[-1]["at"] + timedelta(seconds=1))
    call = Call(phone_line, ANNA_PHONE, "CA" + "c" * 32)
    await call.rings()
    ask = await call.says("какой у меня баланс")
    assert gather_of(ask)["numDigits"] == "4"
    assert "личность подтверждена" in spoken(await call.presses("4821"))
