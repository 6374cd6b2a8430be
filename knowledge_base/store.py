"""MongoDB repository functions for articles, their version history, the index version counter and unanswered questions.

Every function takes the database (or a collection) as its first argument. FerretDB's
updates are not atomic across documents, so the optimistic version check is an update
filtered on the expected version: a second save with the same version matches nothing
and is refused as a conflict.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError, PyMongoError

from core.db import Database, ensure_collections
from handoff import claims
from knowledge_base.models import CONTENT_FIELDS, Article, ArticleStatus, article_from_doc
from knowledge_base.text import stems

logger = logging.getLogger(__name__)

_META_ID = "index"  # one document in kb_meta holds the index version every searching process polls


class ArticleNotFound(LookupError):
    """No article with that id (or that version)."""


class VersionConflict(RuntimeError):
    """Somebody saved the article after the editor loaded it."""

    def __init__(self, article_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"Article '{article_id}' was changed by someone else (you edited version {expected}, "
            f"it is now at version {current}). Reload it, reapply your change and save again."
        )
        self.current = current


class ArticleExists(RuntimeError):
    """An article with that id already exists."""


class NothingPending(RuntimeError):
    """Discarding changes of an article that has none."""


@dataclass(frozen=True)
class VersionEntry:
    """One entry of an article's history."""

    version: int
    at: datetime
    by: str
    action: str
    changed: list[str]
    status: str
    pending: bool


@dataclass(frozen=True)
class Unanswered:
    """A customer question the KB could not answer, grouped with similar ones."""

    key: str
    text: str
    language: str
    channel: str
    conversation_id: str
    first_at: datetime
    last_at: datetime
    count: int
    # Set when a customer said an answer with this article did not help (issue 20).
    not_helpful_article: str | None = None


@dataclass(frozen=True)
class Helpfulness:
    """Customers' votes on one article's answers."""

    helpful: int
    not_helpful: int

    @property
    def share(self) -> float | None:
        """The helpful share of the votes, None without votes."""
        total = self.helpful + self.not_helpful
        return round(self.helpful / total, 3) if total else None


async def ensure_indexes(db: Database) -> None:
    """Indexes for history lookups, listing and the unanswered inbox."""
    await db.kb_article_versions.create_index([("article_id", ASCENDING), ("version", ASCENDING)], unique=True)
    await db.kb_articles.create_index([("status", ASCENDING)])
    await db.kb_unanswered.create_index([("resolved", ASCENDING), ("last_at", DESCENDING)])
    await db.kb_unanswered_asks.create_index([("key", ASCENDING), ("at", ASCENDING)])
    await db.kb_votes.create_index([("article_id", ASCENDING), ("helpful", ASCENDING)])
    await ensure_collections(db, ["kb_index_changes", "kb_unanswered_resolutions"])


async def _version_hint(db: Database) -> int:
    doc = await db.kb_meta.find_one({"_id": _META_ID})
    return int(doc["version"]) if doc else 0


async def index_version(db: Database) -> int:
    """The counter that changes whenever the published set changes: the highest change number claimed.

    Each live change claims the next number as the `_id` of a document in `kb_index_changes` (a
    unique insert, exact on every backend); `kb_meta` only holds a hint where to start looking, so
    reading is a few `_id` look-ups however many changes there were.
    """
    version = await _version_hint(db)
    while await db.kb_index_changes.find_one({"_id": version + 1}, {"_id": 1}) is not None:
        version += 1
    return version


async def _bump_index_version(db: Database, *, now: datetime) -> None:
    """Claim the next change number; concurrent publishes each get their own (no `$inc`, which lost updates)."""
    doc = await claims.insert_unique(
        db.kb_index_changes, await index_version(db) + 1, lambda n: {"_id": n, "at": now}, field="_id"
    )
    # Only a hint: a racing writer may leave it a step behind, readers look further.
    await db.kb_meta.update_one({"_id": _META_ID}, {"$set": {"version": doc["_id"]}}, upsert=False)
    if await db.kb_meta.find_one({"_id": _META_ID}, {"_id": 1}) is None:
        try:
            await db.kb_meta.insert_one({"_id": _META_ID, "version": doc["_id"]})
        except DuplicateKeyError:
            pass  # another publish created the hint at the same moment


async def get_article(db: Database, article_id: str) -> Article:
    """The current state of one article.

    Raises:
        ArticleNotFound: when there is none.
    """
    doc = await db.kb_articles.find_one({"_id": str(article_id)})
    if doc is None:
        raise ArticleNotFound(f"No article '{article_id}'.")
    return article_from_doc(doc)


async def list_articles(
    db: Database, *, status: ArticleStatus | None = None, tag: str | None = None, text: str | None = None
) -> list[Article]:
    """Articles sorted by id, optionally by status, tag and a case-insensitive text in title or questions."""
    query: dict[str, Any] = {}
    if status is not None:
        query["status"] = status.value
    if tag:
        query["tags"] = str(tag)
    articles = [article_from_doc(doc) async for doc in db.kb_articles.find(query).sort("_id", ASCENDING)]
    if text:
        # Filtered here, not with $regex: the text is the editor's, and FerretDB's regex support is partial.
        needle = text.lower()
        articles = [a for a in articles if needle in (str(a.title) + str(a.questions) + a.id).lower()]
    return articles


async def published_articles(db: Database) -> list[Article]:
    """What the search indexes."""
    return await list_articles(db, status=ArticleStatus.PUBLISHED)


async def _record_version(db: Database, article: Article, *, action: str, changed: list[str]) -> None:
    await db.kb_article_versions.insert_one(
        {
            "article_id": article.id,
            "version": article.version,
            "at": article.updated_at,
            "by": article.updated_by,
            "action": action,
            "changed": changed,
            "status": article.status.value,
            # Saved but not live: the bot still answers a published article's previous content.
            "pending": article.pending is not None,
            "snapshot": article.working_content(),
        }
    )


def _changed_fields(before: Article | None, after: Article) -> list[str]:
    if before is None:
        return ["created"]
    names = [
        name
        for name in CONTENT_FIELDS
        if before.working_content().get(name) != after.working_content().get(name)
        or before.content().get(name) != after.content().get(name)
    ]
    if before.status != after.status:
        names.append("status")
    return names


def _is_live_change(before: Article, after: Article) -> bool:
    """Whether the searched set changes: a status change to or from published, or new live content."""
    if ArticleStatus.PUBLISHED not in (before.status, after.status):
        return False
    return before.status != after.status or before.content() != after.content()


async def create_article(db: Database, article: Article, *, by: str, now: datetime) -> Article:
    """Store a new article as version 1.

    Raises:
        ArticleExists: when the id is taken.
    """
    stored = article.with_changes(version=1, updated_by=by, updated_at=now, pending=None)
    try:
        await db.kb_articles.insert_one(stored.to_doc())
    except DuplicateKeyError as err:
        raise ArticleExists(f"An article with id '{article.id}' already exists; choose another id.") from err
    await _record_version(db, stored, action="create", changed=["created"])
    if stored.status == ArticleStatus.PUBLISHED:
        await _bump_index_version(db, now=now)
    return stored


async def _current(db: Database, article_id: str, expected_version: int) -> Article:
    before = await get_article(db, article_id)
    if before.version != expected_version:
        raise VersionConflict(article_id, expected_version, before.version)
    return before


async def _commit(db: Database, before: Article, after: Article, *, by: str, now: datetime, action: str) -> Article:
    """Write `after` as the next version if nobody saved since `before` was read, and record it."""
    stored = after.with_changes(version=before.version + 1, updated_by=by, updated_at=now)
    # The history entry of the new version is the claim: the unique (article_id, version) index lets
    # exactly one of simultaneous saves record it, and only that one writes the article. (A filtered
    # replace alone is read-then-write on FerretDB: several racers "matched" and overwrote each other.)
    try:
        await _record_version(db, stored, action=action, changed=_changed_fields(before, stored))
    except DuplicateKeyError as err:
        raise VersionConflict(before.id, before.version, stored.version) from err
    try:
        result = await db.kb_articles.replace_one({"_id": before.id, "version": before.version}, stored.to_doc())
    except BaseException:
        await _forget_version(db, stored)
        raise
    if result.matched_count == 0:
        await _forget_version(db, stored)
        raise VersionConflict(before.id, before.version, (await get_article(db, before.id)).version)
    if _is_live_change(before, stored):
        await _bump_index_version(db, now=now)
    return stored


async def _forget_version(db: Database, article: Article) -> None:
    """Give a claimed version back when the article itself could not be written."""
    try:
        await db.kb_article_versions.delete_one({"article_id": article.id, "version": article.version})
    except PyMongoError:
        logger.warning("Could not give back version %s of %s", article.version, article.id, exc_info=True)


async def save_article(
    db: Database, article: Article, *, expected_version: int, by: str, now: datetime, action: str = "edit"
) -> Article:
    """Save an edit as a new version if nobody saved in between.

    A draft or archived article takes the new content directly. A published one keeps
    answering customers with its published content: the edit is kept as pending changes
    until `change_status(..., PUBLISHED)` makes it live (saving the live content back
    clears them).

    Args:
        db: The database.
        article: The new content (its status, version and pending fields are ignored).
        expected_version: The version the editor loaded.
        by: Login of the staff member.
        now: The time of the change.
        action: What the history shows (edit, rollback, import, ...).

    Raises:
        ArticleNotFound: when the article does not exist.
        VersionConflict: when the stored version is not the expected one.
    """
    before = await _current(db, article.id, expected_version)
    content = article.content()
    if before.status == ArticleStatus.PUBLISHED:
        after = before.with_changes(pending=None if content == before.content() else content)
    else:
        after = before.with_changes(**content, pending=None)
    return await _commit(db, before, after, by=by, now=now, action=action)


async def change_status(
    db: Database,
    article_id: str,
    status: ArticleStatus,
    *,
    expected_version: int,
    by: str,
    now: datetime,
    action: str,
    content: dict[str, Any] | None = None,
) -> Article:
    """Publish or archive: the pending changes become the article's content.

    With `content` (the setup's seed import) that content goes live instead and an editor's
    pending changes stay pending.

    Raises:
        ArticleNotFound: when the article does not exist.
        VersionConflict: when the stored version is not the expected one.
    """
    before = await _current(db, article_id, expected_version)
    if content is None:
        after = before.with_changes(**before.working_content(), status=status, pending=None)
    else:
        after = before.with_changes(**content, status=status)
    return await _commit(db, before, after, by=by, now=now, action=action)


async def discard_pending(db: Database, article_id: str, *, expected_version: int, by: str, now: datetime) -> Article:
    """Drop a published article's unpublished changes (they stay in the history).

    Raises:
        ArticleNotFound: when the article does not exist.
        VersionConflict: when the stored version is not the expected one.
        NothingPending: when there are no pending changes.
    """
    before = await _current(db, article_id, expected_version)
    if before.pending is None:
        raise NothingPending(f"Article '{article_id}' has no unpublished changes.")
    return await _commit(db, before, before.with_changes(pending=None), by=by, now=now, action="discard changes")


async def history(db: Database, article_id: str) -> list[VersionEntry]:
    """Every version of an article, newest first."""
    cursor = db.kb_article_versions.find({"article_id": str(article_id)}).sort("version", DESCENDING)
    return [
        VersionEntry(
            version=d["version"],
            at=d["at"],
            by=d["by"],
            action=d["action"],
            changed=d["changed"],
            status=d["status"],
            pending=bool(d.get("pending", False)),
        )
        async for d in cursor
    ]


async def version_snapshot(db: Database, article_id: str, version: int) -> dict[str, Any]:
    """The content of one past version (for preview and rollback).

    Raises:
        ArticleNotFound: when that version does not exist.
    """
    doc = await db.kb_article_versions.find_one({"article_id": str(article_id), "version": int(version)})
    if doc is None:
        raise ArticleNotFound(f"Article '{article_id}' has no version {version}.")
    snapshot: dict[str, Any] = doc["snapshot"]
    return snapshot


async def import_articles(
    db: Database, articles: list[Article], *, by: str, now: datetime, publish: bool = True
) -> dict[str, int]:
    """Create new articles and update changed ones by id; unchanged ones are left alone (idempotent).

    Args:
        db: The database.
        articles: The imported articles (their status is ignored).
        by: Who imports.
        now: The time of the import.
        publish: True for the setup's seed: new articles are published and changes go live.
            False for an editor's file: new articles are drafts and changes to published
            articles wait as pending changes for review.

    Returns:
        Counts of created, updated and unchanged articles.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for article in articles:
        try:
            current = await get_article(db, article.id)
        except ArticleNotFound:
            status = ArticleStatus.PUBLISHED if publish else ArticleStatus.DRAFT
            try:
                await create_article(db, article.with_changes(status=status), by=by, now=now)
            except ArticleExists:
                # Another process imported it at the same moment (two gateways seeding a fresh database).
                counts["unchanged"] += 1
                continue
            counts["created"] += 1
            continue
        target = current.content() if publish else current.working_content()
        if target == article.content():
            counts["unchanged"] += 1
            continue
        if publish:
            await change_status(
                db,
                article.id,
                current.status,
                expected_version=current.version,
                by=by,
                now=now,
                action="import",
                content=article.content(),
            )
        else:
            await save_article(db, article, expected_version=current.version, by=by, now=now, action="import")
        counts["updated"] += 1
    return counts


SEED_BY = "seed"  # who the setup's seed import and its upgrades are recorded as
_SEED_META_ID = "seed"  # kb_meta: the digest of the seed last applied (only lets a start skip the per-article check)


async def _last_seeded(db: Database, article_id: str) -> dict[str, Any] | None:
    """The content the seed last wrote or proposed for an article (its newest history entry by the seed)."""
    cursor = db.kb_article_versions.find({"article_id": article_id, "by": SEED_BY}).sort("version", DESCENDING)
    async for entry in cursor.limit(1):
        snapshot: dict[str, Any] = entry["snapshot"]
        return snapshot
    return None


async def upgrade_from_seed(db: Database, articles: list[Article], *, digest: str, now: datetime) -> dict[str, int]:
    """Bring a database that imported an earlier seed up to this one, article by article, keeping editors' work.

    The seed is the KB's shipped content; a new release may improve an article (more ways
    customers ask) or add one. For each seed article whose content differs from what the seed
    last wrote for it (its history says what that was):
    - not in the database: created and published, as the first import does;
    - still as the seed left it (its newest version is the seed's): the new content goes live;
    - changed by an editor since: the seed's content waits as a pending change for the editor to
      review (publish or discard; never proposed again), unless the editor has a pending change
      of their own or the article is archived or a draft (left alone).
    Idempotent, and safe when two gateways start at once (a version conflict means the other did it).
    `digest` (the seed file's) is remembered so that later starts skip the comparison.

    Returns:
        Counts: created, upgraded (live), proposed (pending for review), kept (editor's work left alone), unchanged.
    """
    counts = {"created": 0, "upgraded": 0, "proposed": 0, "kept": 0, "unchanged": 0}
    meta = await db.kb_meta.find_one({"_id": _SEED_META_ID})
    if meta is not None and meta.get("digest") == digest:
        counts["unchanged"] = len(articles)
        return counts
    for article in articles:
        content = article.content()
        try:
            current = await get_article(db, article.id)
        except ArticleNotFound:
            try:
                await create_article(db, article.with_changes(status=ArticleStatus.PUBLISHED), by=SEED_BY, now=now)
                counts["created"] += 1
            except ArticleExists:
                counts["unchanged"] += 1  # another gateway created it at the same moment
            continue
        if current.working_content() == content or await _last_seeded(db, article.id) == content:
            counts["unchanged"] += 1
            continue
        try:
            if current.updated_by == SEED_BY and current.pending is None:
                await change_status(
                    db, article.id, current.status, expected_version=current.version, by=SEED_BY, now=now,
                    action="seed upgrade", content=content,
                )  # fmt: skip
                counts["upgraded"] += 1
            elif current.status == ArticleStatus.PUBLISHED and current.pending is None:
                await save_article(
                    db, article, expected_version=current.version, by=SEED_BY, now=now, action="seed upgrade"
                )
                counts["proposed"] += 1
            else:
                counts["kept"] += 1
        except VersionConflict:
            counts["unchanged"] += 1  # someone saved at the same moment (another gateway's upgrade, an editor)
    try:
        await db.kb_meta.replace_one({"_id": _SEED_META_ID}, {"_id": _SEED_META_ID, "digest": digest}, upsert=True)
    except DuplicateKeyError:
        pass  # another gateway recorded it at the same moment
    return counts


def _question_key(text: str, language: str) -> str:
    """Similar questions share a key: the sorted set of their stems ("как закрыть счёт?" = "Закрыть счет как")."""
    basis = " ".join(sorted(set(stems(text, language)))) or text.strip().lower()
    return hashlib.sha256(f"{language}:{basis}".encode()).hexdigest()[:24]


async def record_unanswered(
    db: Database,
    *,
    text: str,
    language: str,
    channel: str,
    conversation_id: str,
    now: datetime,
    not_helpful_article: str | None = None,
) -> None:
    """Keep a question the KB could not answer; similar ones share the first one's entry.

    Every ask is its own document (an insert, atomic on every backend), and the count is the
    number of asks: `$inc` on an upserted document lost counts on FerretDB. The entry itself is
    created once by a unique insert; later asks only move its "last asked" fields.
    """
    key = _question_key(text, language)
    await db.kb_unanswered_asks.insert_one(
        {"key": key, "at": now, "channel": channel, "conversation_id": conversation_id}
    )
    latest: dict[str, Any] = {"last_at": now, "channel": channel, "conversation_id": conversation_id}
    if not_helpful_article:
        # A customer said the answer with this article did not help (issue 20): the editor sees which.
        latest["not_helpful_article"] = not_helpful_article
    try:
        await db.kb_unanswered.insert_one(
            {"_id": key, "text": text[:1000], "language": language, "first_at": now, "resolved": False, **latest}
        )
    except DuplicateKeyError:
        await db.kb_unanswered.update_one({"_id": key}, {"$set": latest})


async def record_vote(
    db: Database,
    *,
    vote_id: str,
    article_id: str,
    question: str,
    helpful: bool,
    language: str,
    channel: str,
    conversation_id: str,
    now: datetime,
) -> bool:
    """Keep one customer's vote on one answer; False when that answer already has one (a second click).

    Append-only, one document per answered question (`vote_id`), counted by a query (`helpfulness`):
    no counter to increment, so simultaneous votes are never lost (FerretDB runs $inc as read-then-write).
    """
    try:
        await db.kb_votes.insert_one(
            {
                "_id": vote_id[:300],
                "article_id": article_id,
                "question": question[:1000],
                "helpful": helpful,
                "language": language,
                "channel": channel,
                "conversation_id": conversation_id,
                "at": now,
            }
        )
    except DuplicateKeyError:
        return False
    return True


async def helpfulness(db: Database, article_ids: list[str] | None = None) -> dict[str, Helpfulness]:
    """Votes per article, counted from the vote records."""
    match: dict[str, Any] = {"article_id": {"$in": article_ids}} if article_ids is not None else {}
    counts: dict[str, dict[bool, int]] = {}
    pipeline = [{"$match": match}, {"$group": {"_id": {"a": "$article_id", "h": "$helpful"}, "n": {"$sum": 1}}}]
    async for row in await db.kb_votes.aggregate(pipeline):
        counts.setdefault(str(row["_id"]["a"]), {})[bool(row["_id"]["h"])] = int(row["n"])
    return {aid: Helpfulness(helpful=c.get(True, 0), not_helpful=c.get(False, 0)) for aid, c in counts.items()}


async def _ask_counts(db: Database, keys: list[str]) -> dict[str, int]:
    pipeline: list[dict[str, Any]] = [
        {"$match": {"key": {"$in": keys}}},
        {"$group": {"_id": "$key", "count": {"$sum": 1}}},
    ]
    return {doc["_id"]: int(doc["count"]) async for doc in await db.kb_unanswered_asks.aggregate(pipeline)}


async def unanswered_count(db: Database, key: str) -> int:
    """How often a question was asked (entries kept before asks were recorded one by one keep their count)."""
    doc = await db.kb_unanswered.find_one({"_id": key}, {"count": 1})
    return (await _ask_counts(db, [key])).get(key, 0) + int((doc or {}).get("count", 0))


async def list_unanswered(db: Database, *, limit: int = 200) -> list[Unanswered]:
    """Open unanswered questions, most recent first.

    A resolution is a document of its own (`kb_unanswered_resolutions`), so an ask moving the
    entry's "last asked" fields at the same moment cannot undo it; the `resolved` flag on the
    entry only lets the listing skip resolved ones through its index.
    """
    docs = await db.kb_unanswered.find({"resolved": False}).sort("last_at", DESCENDING).limit(limit).to_list()
    keys = [d["_id"] for d in docs]
    resolved = {d["_id"] async for d in db.kb_unanswered_resolutions.find({"_id": {"$in": keys}}, {"_id": 1})}
    counts = await _ask_counts(db, keys)
    return [
        Unanswered(
            key=d["_id"],
            text=d["text"],
            language=d["language"],
            channel=d.get("channel", ""),
            conversation_id=d.get("conversation_id", ""),
            first_at=d["first_at"],
            last_at=d["last_at"],
            count=counts.get(d["_id"], 0) + int(d.get("count", 0)),
            not_helpful_article=d.get("not_helpful_article"),
        )
        for d in docs
        if d["_id"] not in resolved
    ]


async def resolve_unanswered(db: Database, key: str, *, by: str, article_id: str, now: datetime) -> None:
    """Take a question out of the inbox once an article covers it."""
    resolution = {"resolved": True, "resolved_by": by, "article_id": article_id, "resolved_at": now}
    try:
        await db.kb_unanswered_resolutions.insert_one({"_id": str(key), **resolution})
    except DuplicateKeyError:
        pass  # resolved already (two content editors at once): the first resolution stands
    await db.kb_unanswered.update_one({"_id": str(key)}, {"$set": resolution})


_SAFE_KEY = re.compile(r"^[0-9a-f]{24}$")


def is_unanswered_key(value: str) -> bool:
    """Whether a string can be an unanswered-question key (URL input check)."""
    return bool(_SAFE_KEY.match(value))
