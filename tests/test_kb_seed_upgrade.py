"""A bank that imported an earlier seed gets the improved articles of a new release, and its editors' work stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from core.db import Database
from knowledge_base import store
from knowledge_base.models import Article
from knowledge_base.seed import load_seed, to_yaml
from knowledge_base.setup import seed_or_upgrade

pytest_plugins = ("tests.kb_support",)

EARLIER = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _earlier_release(seed: list[Article]) -> list[Article]:
    """The seed as an earlier release shipped it: fewer ways to ask three articles, one article missing."""
    older: list[Article] = []
    for article in seed:
        if article.id == "debit_card_order":
            continue  # added by the new release
        if article.id in {"card_abroad", "transaction_dispute", "cashback", "branch_hours"}:
            article = article.with_changes(questions={lang: qs[:-1] for lang, qs in article.questions.items()})
        older.append(article)
    return older


async def test_a_database_seeded_by_an_earlier_release_gets_the_new_seed_and_keeps_the_editors_work(
    kb_db: Database, tmp_path: Path
) -> None:
    seed = {a.id: a for a in load_seed()}
    await store.ensure_indexes(kb_db)
    # The bank's database: the earlier seed imported once, as the setup then did (no record of which seed).
    await store.import_articles(kb_db, _earlier_release(list(seed.values())), by="seed", now=EARLIER)
    # Since then Elena edited and published the cashback article, and has an unpublished edit of branch hours.
    cashback = await store.get_article(kb_db, "cashback")
    edited = cashback.with_changes(answer={**cashback.answer, "ru": "Кешбэк: 1 % на всё, 5 % в категориях месяца."})
    await store.save_article(kb_db, edited, expected_version=cashback.version, by="elena", now=EARLIER)
    cashback = await store.get_article(kb_db, "cashback")
    await store.change_status(
        kb_db, "cashback", cashback.status, expected_version=cashback.version, by="elena", now=EARLIER, action="publish"
    )
    hours = await store.get_article(kb_db, "branch_hours")
    await store.save_article(
        kb_db, hours.with_changes(answer={**hours.answer, "ru": "Новые часы работы"}),
        expected_version=hours.version, by="elena", now=EARLIER,
    )  # fmt: skip
    index_before = await store.index_version(kb_db)

    # The new release starts: two gateways at the same moment.
    await asyncio.gather(seed_or_upgrade(kb_db), seed_or_upgrade(kb_db))

    # Articles the seed alone wrote take the new questions at once, and customers are searched against them.
    for article_id in ("card_abroad", "transaction_dispute"):
        stored = await store.get_article(kb_db, article_id)
        assert stored.questions == seed[article_id].questions and stored.pending is None
        assert [e.action for e in await store.history(kb_db, article_id)] == ["seed upgrade", "create"]
    assert (await store.get_article(kb_db, "debit_card_order")).status.value == "published"
    assert await store.index_version(kb_db) > index_before
    # Elena's published edit stays live; the seed's version waits for her review as a pending change.
    cashback = await store.get_article(kb_db, "cashback")
    assert cashback.answer["ru"].startswith("Кешбэк: 1 %")
    assert cashback.pending == seed["cashback"].content()
    # Her own unpublished edit is not replaced by the seed's.
    hours = await store.get_article(kb_db, "branch_hours")
    assert hours.pending is not None and hours.pending["answer"]["ru"] == "Новые часы работы"

    # She discards the seed's proposal; a restart neither proposes it again nor touches anything else.
    await store.discard_pending(kb_db, "cashback", expected_version=cashback.version, by="elena", now=EARLIER)
    versions = {a.id: a.version for a in await store.list_articles(kb_db)}
    await kb_db.kb_meta.delete_one({"_id": "seed"})  # even without the remembered digest
    await seed_or_upgrade(kb_db)
    assert {a.id: a.version for a in await store.list_articles(kb_db)} == versions


async def test_a_changed_seed_file_is_applied_once_and_an_unchanged_one_is_skipped(
    kb_db: Database, tmp_path: Path
) -> None:
    seed = load_seed()
    path = tmp_path / "kb_seed.yaml"
    path.write_text(to_yaml(_earlier_release(seed)), encoding="utf-8")
    await store.ensure_indexes(kb_db)
    await seed_or_upgrade(kb_db, path)
    assert len(await store.list_articles(kb_db)) == len(seed) - 1
    assert (await store.get_article(kb_db, "card_abroad")).version == 1

    path.write_text(to_yaml(seed), encoding="utf-8")
    await seed_or_upgrade(kb_db, path)
    await seed_or_upgrade(kb_db, path)
    abroad = await store.get_article(kb_db, "card_abroad")
    assert abroad.version == 2 and abroad.questions == next(a for a in seed if a.id == "card_abroad").questions
    assert len(await store.list_articles(kb_db)) == len(seed)
