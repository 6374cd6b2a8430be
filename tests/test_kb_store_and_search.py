"""Content staff's articles in MongoDB, and customers' colloquial questions finding them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.db import Database
from knowledge_base import store
from knowledge_base.config import default_model
from knowledge_base.embeddings import load_encoder
from knowledge_base.models import ArticleStatus, article_from_input
from knowledge_base.search import Decision
from knowledge_base.seed import articles_from_csv, articles_from_yaml, load_seed, to_csv, to_yaml
from knowledge_base.service import KnowledgeBase

pytest_plugins = ("tests.kb_support",)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    """The configured default embedding model, loaded once."""
    return load_encoder(default_model())


async def test_seed_import_is_idempotent_and_updates_by_id(kb_db: Database) -> None:
    seed = load_seed()
    assert await store.import_articles(kb_db, seed, by="seed", now=NOW) == {
        "created": 32,
        "updated": 0,
        "unchanged": 0,
    }
    assert await store.import_articles(kb_db, seed, by="seed", now=NOW) == {"created": 0, "updated": 0, "unchanged": 32}
    changed = seed[0].with_changes(answer={"ru": "Новый ответ", "en": "New answer"})
    counts = await store.import_articles(kb_db, [changed], by="seed", now=NOW)
    assert counts == {"created": 0, "updated": 1, "unchanged": 0}
    assert len(await store.list_articles(kb_db)) == 32
    stored = await store.get_article(kb_db, seed[0].id)
    assert stored.answer["ru"] == "Новый ответ" and stored.version == 2 and stored.pending is None
    assert [e.action for e in await store.history(kb_db, seed[0].id)] == ["import", "create"]


async def test_an_editor_import_changes_published_articles_only_after_review(kb_db: Database) -> None:
    seed = load_seed()
    await store.import_articles(kb_db, seed, by="seed", now=NOW)
    index_before = await store.index_version(kb_db)
    changed = seed[0].with_changes(answer={"ru": "Новый ответ", "en": "New answer"})
    brand_new = seed[1].with_changes(id="new_topic")

    counts = await store.import_articles(kb_db, [changed, brand_new], by="anna", now=NOW, publish=False)

    assert counts == {"created": 1, "updated": 1, "unchanged": 0}
    stored = await store.get_article(kb_db, seed[0].id)
    assert stored.answer == seed[0].answer and stored.pending == changed.content()
    assert (await store.get_article(kb_db, "new_topic")).status == ArticleStatus.DRAFT
    assert await store.index_version(kb_db) == index_before
    again = await store.import_articles(kb_db, [changed], by="anna", now=NOW, publish=False)
    assert again == {"created": 0, "updated": 0, "unchanged": 1}


async def test_an_edit_of_a_published_article_goes_live_only_when_published(kb_db: Database, encoder) -> None:  # type: ignore[no-untyped-def]
    await store.import_articles(kb_db, load_seed(), by="seed", now=NOW)
    bot_side = KnowledgeBase(kb_db, encoder)
    await bot_side.refresh()
    live = await store.get_article(kb_db, "pin_forgotten")
    edit = live.with_changes(answer={"ru": "Черновик ответа", "en": "Draft answer"})

    saved = await store.save_article(kb_db, edit, expected_version=live.version, by="anna", now=NOW)

    assert saved.answer == live.answer and saved.pending is not None
    assert saved.pending["answer"]["ru"] == "Черновик ответа"
    assert not await bot_side.refresh(), "a pending edit must not rebuild the bot's index"
    assert bot_side.index.articles["pin_forgotten"].answer == live.answer

    published = await store.change_status(
        kb_db,
        "pin_forgotten",
        ArticleStatus.PUBLISHED,
        expected_version=saved.version,
        by="olga",
        now=NOW,
        action="publish",
    )

    assert published.answer["ru"] == "Черновик ответа" and published.pending is None
    assert await bot_side.refresh()
    assert bot_side.index.articles["pin_forgotten"].answer["ru"] == "Черновик ответа"
    entries = await store.history(kb_db, "pin_forgotten")
    assert [(e.action, e.pending, e.by) for e in entries[:2]] == [("publish", False, "olga"), ("edit", True, "anna")]
    assert entries[0].changed == ["answer"]


async def test_a_second_save_of_the_same_version_is_refused_and_nothing_is_lost(kb_db: Database) -> None:
    article = article_from_input(
        {"id": "fees", "title": {"ru": "Комиссии"}, "questions": {"ru": ["Какие комиссии?"]}, "answer": {"ru": "Нет"}}
    )
    created = await store.create_article(kb_db, article, by="anna", now=NOW)
    annas = created.with_changes(answer={"ru": "Ответ Анны"})
    borises = created.with_changes(answer={"ru": "Ответ Бориса"})
    await store.save_article(kb_db, annas, expected_version=1, by="anna", now=NOW)
    with pytest.raises(store.VersionConflict, match="Reload it"):
        await store.save_article(kb_db, borises, expected_version=1, by="boris", now=NOW)
    assert (await store.get_article(kb_db, "fees")).answer == {"ru": "Ответ Анны"}


async def test_operators_and_html_in_articles_are_stored_as_plain_text(kb_db: Database) -> None:
    hostile = article_from_input(
        {
            "id": "odd",
            "title": {"ru": "<script>alert(1)</script>"},
            "questions": {"ru": ['{"$ne": null}', "$where"]},
            "answer": {"ru": "<img src=x onerror=alert(1)> {$gt: ''}"},
        }
    )
    await store.create_article(kb_db, hostile, by="anna", now=NOW)
    stored = await store.get_article(kb_db, "odd")
    assert stored.title["ru"] == "<script>alert(1)</script>"
    assert stored.questions["ru"] == ['{"$ne": null}', "$where"]
    with pytest.raises(store.ArticleNotFound):
        await store.get_article(kb_db, {"$ne": None})  # type: ignore[arg-type]


def test_export_and_reimport_round_trip_in_yaml_and_csv() -> None:
    seed = load_seed()
    assert [a.content() for a in articles_from_yaml(to_yaml(seed))] == [a.content() for a in seed]
    assert [a.content() for a in articles_from_csv(to_csv(seed))] == [a.content() for a in seed]


async def test_customers_colloquial_questions_find_the_right_article(kb_db: Database, encoder) -> None:  # type: ignore[no-untyped-def]
    await store.import_articles(kb_db, load_seed(), by="seed", now=NOW)
    kb = KnowledgeBase(kb_db, encoder)
    answer = await kb.query("забыл пин от карточки", "ru")
    assert answer.hits[0].id == "pin_forgotten"
    assert (await kb.query("atm ate my card", "en")).hits[0].id == "atm_card_captured"
    assert (await kb.query("", "ru")).decision == Decision.MISS
    huge = await kb.query("перевод " * 10_000, "ru")
    assert huge.hits and huge.hits[0].id in {"sbp_transfer", "transfer_not_received", "transfer_cancel"}
    weather = await kb.query("какая погода завтра в новосибирске", "ru")
    assert weather.decision == Decision.MISS


async def test_a_published_edit_reaches_another_process_view_within_five_seconds(kb_db: Database, encoder) -> None:  # type: ignore[no-untyped-def]
    await store.import_articles(kb_db, load_seed(), by="seed", now=NOW)
    bot_side = KnowledgeBase(kb_db, encoder)
    await bot_side.refresh()
    draft = article_from_input(
        {
            "id": "crypto",
            "title": {"ru": "Криптовалюта"},
            "questions": {"ru": ["Можно ли купить биткоин через банк?"]},
            "answer": {"ru": "Нет, банк не продаёт криптовалюту."},
        }
    )
    created = await store.create_article(kb_db, draft, by="anna", now=NOW)
    await store.change_status(
        kb_db, created.id, ArticleStatus.PUBLISHED, expected_version=1, by="anna", now=NOW, action="publish"
    )
    started = asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - started < 5:
        hits = (await bot_side.query("купить биткоин", "ru")).hits
        if hits and hits[0].id == "crypto":
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("The published article did not reach the other KB within 5 s")
