"""Every counter and once-only write stays exact when many callers hit it at the same moment.

FerretDB 1.24 (the database the project ships with) applies `$inc`, `$max`, upserts and
conditional updates as read-then-write: simultaneous callers lose each other's updates or fail
on a duplicate key. Each write below is a unique-key claim or an append-only record counted by a
query, so the result is exact on every backend. Each test runs its write 16 to 30 times at once,
for 20 rounds, on FerretDB-on-PostgreSQL, and checks the exact result every round
(docs/architecture.md, "Writes under concurrency", lists every write and its mechanism).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import signin_guard
from core.banking import BlockStatus, MongoBankingBackend, release_card_blocks
from core.db import Database
from core.demo_data import seed_demo_bank
from core.messages import Reply
from core.signin_guard import SignInLocked, SignInPolicy
from handoff import conversations, events, inbox, transcript
from handoff.bus import EventBus
from knowledge_base import store
from knowledge_base.models import ArticleStatus
from knowledge_base.seed import load_seed

from .handoff_support import db, ferretdb, mongo

__all__ = ["db", "ferretdb", "mongo"]

ROUNDS = 20
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = SignInPolicy()


@pytest.fixture
async def races(db: Database) -> Database:
    """A fresh database on the handoff tests' FerretDB-on-PostgreSQL, with the indexes the gateway creates."""
    await inbox.ensure_indexes(db)
    await store.ensure_indexes(db)
    await signin_guard.ensure_indexes(db)
    return db


async def at_once(calls: list[Any]) -> list[Any]:
    """Start every call at the same moment; exceptions are returned, not raised, so each round is judged whole."""
    return await asyncio.gather(*calls, return_exceptions=True)


async def test_an_operator_s_read_marks_from_many_tabs_at_once_end_at_the_highest_message(races: Database) -> None:
    db = races
    """Was: eight simultaneous "mark read" calls answered 500 (a losing upsert on FerretDB)."""
    for round_ in range(ROUNDS):
        conversation = f"conv-{round_}"
        seqs = [*range(1, 17), *range(1, 17)]  # every message marked twice: by two tabs
        results = await at_once([inbox.mark_read(db, "olga", conversation, seq) for seq in seqs])
        assert [r for r in results if r is not None] == [], f"round {round_}: every mark is accepted"
        assert await inbox.read_position(db, "olga", conversation) == 16, f"round {round_}"
        assert await inbox.read_position(db, "kate", conversation) == 0, "another operator's marks are their own"


async def test_simultaneous_publishes_each_move_the_search_index_version_once(races: Database) -> None:
    db = races
    """Was: eight simultaneous publishes moved the version by three."""
    seed = load_seed()[:16]
    for round_ in range(ROUNDS):
        drafts = await asyncio.gather(
            *(
                store.create_article(
                    db,
                    article.with_changes(id=f"r{round_}-{article.id}", status=ArticleStatus.DRAFT),
                    by="anna",
                    now=NOW,
                )
                for article in seed
            )
        )
        before = await store.index_version(db)
        results = await at_once(
            [
                store.change_status(
                    db, draft.id, ArticleStatus.PUBLISHED, expected_version=1, by="anna", now=NOW, action="publish"
                )
                for draft in drafts
            ]
        )
        assert [type(r).__name__ for r in results] == ["Article"] * len(drafts), f"round {round_}: {results}"
        assert await store.index_version(db) == before + len(drafts), f"round {round_}"


async def test_one_article_published_by_many_editors_at_once_gets_one_new_version(races: Database) -> None:
    db = races
    """The article's next version is claimed once: one publish wins, the others are told to reload."""
    article = load_seed()[0]
    for round_ in range(ROUNDS):
        draft = await store.create_article(
            db, article.with_changes(id=f"same-{round_}", status=ArticleStatus.DRAFT), by="anna", now=NOW
        )
        before = await store.index_version(db)
        results = await at_once(
            [
                store.change_status(
                    db,
                    draft.id,
                    ArticleStatus.PUBLISHED,
                    expected_version=1,
                    by=f"editor-{n}",
                    now=NOW,
                    action="publish",
                )
                for n in range(16)
            ]
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        assert len(won) == 1, f"round {round_}: {results}"
        assert all(isinstance(r, store.VersionConflict) for r in results if r is not won[0])
        stored = await store.get_article(db, draft.id)
        assert (stored.version, stored.status, stored.updated_by) == (2, ArticleStatus.PUBLISHED, won[0].updated_by)
        assert [e.by for e in await store.history(db, draft.id)] == [won[0].updated_by, "anna"]
        assert await store.index_version(db) == before + 1, f"round {round_}"


async def test_a_question_asked_by_many_customers_at_once_is_counted_exactly(races: Database) -> None:
    db = races
    """Was: the unanswered-question count undercounted (`$inc` on an upserted document)."""
    for round_ in range(ROUNDS):
        texts = ["Сколько стоит аренда сейфовой ячейки?", "сколько стоит аренда ячейки сейфовой"]
        await at_once(
            [
                store.record_unanswered(
                    db, text=texts[n % 2], language="ru", channel="rest", conversation_id=f"c{n}", now=NOW
                )
                for n in range(16)
            ]
        )
        [entry] = await store.list_unanswered(db)
        assert entry.count == 16 * (round_ + 1), f"round {round_}"
    await store.resolve_unanswered(db, entry.key, by="anna", article_id="safe_box", now=NOW)
    await store.record_unanswered(db, text=texts[0], language="ru", channel="rest", conversation_id="late", now=NOW)
    assert await store.list_unanswered(db) == [], "an ask after the resolution does not bring it back"
    assert await store.unanswered_count(db, entry.key) == 16 * ROUNDS + 1


async def _failed_sign_in(
    db: Database, login: str, address: str, now: datetime, checking: list[int] | None = None
) -> str:
    """One wrong password: "checked" when the guard let it through, "refused" when it waited.

    `checking` counts the checks running at once: [now, most ever].
    """
    try:
        attempt = await signin_guard.begin(db, login, address, now=now, policy=POLICY)
    except SignInLocked:
        return "refused"
    if checking is not None:
        checking[0] += 1
        checking[1] = max(checking)
        await asyncio.sleep(0.01)  # the password check
        checking[0] -= 1
    await signin_guard.finish(db, login, address, succeeded=False, now=now, policy=POLICY, attempt=attempt)
    return "checked"


async def test_simultaneous_failed_sign_ins_from_one_address_are_all_counted(races: Database) -> None:
    db = races
    """Was: 16 simultaneous failures from one address counted 4 to 12, so a burst got more guesses."""
    for round_ in range(ROUNDS):
        address = f"203.0.113.{round_}"
        results = await at_once([_failed_sign_in(db, f"guess-{round_}-{n}", address, NOW) for n in range(16)])
        assert results == ["checked"] * 16, f"round {round_}: within the free failures every guess is checked"
        counted = await signin_guard.failures(db, "anyone", address, now=NOW, policy=POLICY)
        assert counted["address"] == 16, f"round {round_}"


async def test_a_burst_beyond_the_free_failures_gets_no_more_guesses_than_the_limit(races: Database) -> None:
    db = races
    free = POLICY.free_failures_per_address
    for round_ in range(ROUNDS):
        address = f"198.51.100.{round_}"
        results = await at_once([_failed_sign_in(db, f"burst-{round_}-{n}", address, NOW) for n in range(30)])
        checked = results.count("checked")
        assert checked <= free and results.count("refused") == 30 - checked, f"round {round_}: {results}"
        counted = await signin_guard.failures(db, "anyone", address, now=NOW, policy=POLICY)
        assert counted["address"] == checked, f"round {round_}: every checked guess counts, no other"
        later = NOW + timedelta(milliseconds=1)
        # The next guess is checked (a free failure left, or the first beyond them); past the limit the address waits.
        assert await _failed_sign_in(db, f"next-{round_}", address, later) == "checked"
        if checked + 1 > free:
            assert await _failed_sign_in(db, f"then-{round_}", address, later) == "refused"


async def test_simultaneous_guesses_at_one_account_are_checked_one_at_a_time(races: Database) -> None:
    db = races
    for round_ in range(ROUNDS):
        login = f"olga-{round_}"
        checking = [0, 0]
        results = await at_once([_failed_sign_in(db, login, f"192.0.2.{n}", NOW, checking) for n in range(16)])
        assert checking[1] == 1, f"round {round_}: never two checks of one account at once"
        checked = results.count("checked")
        assert 1 <= checked <= POLICY.free_failures_per_account + 1 and results.count("refused") == 16 - checked
        counted = await signin_guard.failures(db, login, "192.0.2.0", now=NOW, policy=POLICY)
        assert counted["account"] == checked, f"round {round_}: every checked guess counts"


async def test_a_card_blocked_from_many_channels_at_once_is_blocked_once_and_audited_once(races: Database) -> None:
    """Was: a conditional update, read-modify-write on FerretDB: two simultaneous requests both said "blocked"."""
    db = races
    bank = MongoBankingBackend(db)
    await seed_demo_bank(db)
    for round_ in range(ROUNDS):
        # Ivan's card active again, as the demo seed puts it back, and its block claim given back.
        await db.bank_cards.update_one({"_id": "demo-ivan-card-1"}, {"$set": {"status": "active"}})
        await release_card_blocks(db, ["demo-ivan-card-1"])
        results = await at_once(
            [
                bank.block_card("demo-ivan", "5678", actor=f"operator-{n}", channel="console", conversation_id=f"c{n}")
                for n in range(16)
            ]
        )
        statuses = [r.status for r in results]
        assert sorted(statuses) == [BlockStatus.ALREADY_BLOCKED] * 15 + [BlockStatus.BLOCKED], f"round {round_}"
        blocked = await db.audit_log.count_documents({"action": "card.block", "result": "blocked"})
        assert blocked == round_ + 1, f"round {round_}: one audited block per round"


async def test_a_payment_marked_paid_by_many_callers_at_once_is_marked_once(races: Database) -> None:
    db = races
    bank = MongoBankingBackend(db)
    await seed_demo_bank(db)
    payments = [doc["_id"] async for doc in db.bank_payments.find({}, {"_id": 1})]
    assert len(payments) >= 1
    for round_ in range(ROUNDS):
        payment_id = f"race-payment-{round_}"
        await db.bank_payments.insert_one({"_id": payment_id, "customer_id": "demo-anna", "paid_at": None})
        results = await at_once([bank.mark_paid(payment_id) for _ in range(16)])
        assert results.count(True) == 1 and results.count(False) == 15, f"round {round_}: {results}"


async def test_simultaneous_first_messages_of_one_customer_open_one_conversation(races: Database) -> None:
    """Issue 22 made opening a read, then unique inserts (no upserts): one conversation, created once."""
    db = races
    bus = EventBus(db)
    for round_ in range(ROUNDS // 4):
        user = f"first-{round_}"
        opened = await at_once([conversations.open_conversation(db, "rest", user, NOW, bus) for _ in range(16)])
        assert not [o for o in opened if isinstance(o, BaseException)], f"round {round_}: {opened}"
        ids = {o.id for o in opened}
        assert len(ids) == 1, f"round {round_}: one conversation, got {ids}"
        created = await db.events.count_documents({"conversation_id": ids.pop(), "name": events.CONVERSATION_CREATED})
        assert created == 1, f"round {round_}: created once"


async def test_appends_from_several_gateways_with_stale_numbers_keep_a_dense_transcript(races: Database) -> None:
    """Each caller starts from a number it remembers, already taken by the others: nothing lost, no gaps."""
    db = races
    await transcript.ensure_indexes(db)
    for round_ in range(ROUNDS // 4):
        conversation = f"dense-{round_}"
        await transcript.append(db, conversation, author="customer", text="first", now=NOW)
        replies = [Reply(text=f"reply {j}") for j in range(3)]
        calls = [
            transcript.append(db, conversation, author="customer", text=f"m{i}", now=NOW, after=1, move_head=False)
            for i in range(12)
        ] + [transcript.append_replies(db, conversation, replies, NOW, after=1) for _ in range(6)]
        results = await at_once(calls)
        assert not [r for r in results if isinstance(r, BaseException)], f"round {round_}: {results}"
        stored = await db.messages.find({"conversation_id": conversation}).sort("seq", 1).to_list()
        assert [m["seq"] for m in stored] == list(range(1, 1 + 1 + 12 + 6 * 3)), f"round {round_}"
        assert sorted(m["text"] for m in stored if m["author"] == "customer") == sorted(
            ["first", *(f"m{i}" for i in range(12))]
        )
