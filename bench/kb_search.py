"""Knowledge-base retrieval figures: hit@1, hit@3, MRR per language and ranker, misses, speed.

Usage: python -m bench.kb_search [--model SPEC ...] [--speed | --speed-only [--sizes 32,1000,10000]] [--no-banking77]

Index = the seed's own questions; queries = bench/data/kb_eval.yaml (colloquial paraphrases
written for this benchmark, not the seed's questions). BANKING77 (bench/data/banking77, a copy of shared/data/banking77,
training split): 10 rows per category indexed, 10 more per category for tuning (dev),
up to 40 further rows per category for the figures (test). Weights and thresholds are tuned
on dev data only (seed questions split in halves; BANKING77 dev rows), never on the figures' rows.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench import kb_speed
from knowledge_base.embeddings import Matrix, load_encoder
from knowledge_base.models import Article, ArticleStatus
from knowledge_base.search import FusionWeights, SearchIndex, Thresholds
from knowledge_base.seed import load_seed

DATA = Path(__file__).parent / "data"
BANKING77 = Path(__file__).resolve().parent / "data" / "banking77" / "train.csv"
Query = tuple[str, str]  # (text, expected article id)


def _article(aid: str, questions: dict[str, list[str]], title: dict[str, str] | None = None) -> Article:
    return Article(
        id=aid,
        title=title or {"en": aid.replace("_", " ")},
        questions=questions,
        answer={"ru": "-", "en": "-"},
        status=ArticleStatus.PUBLISHED,
    )


def evaluate(index: SearchIndex, queries: list[Query], lang: str) -> dict[str, dict[str, float]]:
    """hit@1, hit@3, MRR for each ranker alone and the fusion."""
    ids = index.ids(lang)
    comps = [index.components(q, lang) for q, _ in queries]
    w = index.weights
    rankers: dict[str, Callable[[Components], Matrix]] = {
        "embedding": lambda c: _semantic(c, w.prototype),
        "lexical": lambda c: 0.6 * c[2] + 0.4 * c[3],
        "fusion": lambda c: _fused(c, w),
    }
    result: dict[str, dict[str, float]] = {}
    for name, fn in rankers.items():
        result[name] = _metrics([fn(c) for c in comps], [ids.index(e) for _, e in queries])
    return result


def _metrics(scores: list[np.ndarray], expected: list[int]) -> dict[str, float]:
    ranks = []
    for s, e in zip(scores, expected, strict=True):
        ranks.append(1 + int(np.sum(s > s[e])) if s[e] > 0 else 10_000)
    n = len(ranks)
    return {
        "hit@1": sum(r == 1 for r in ranks) / n,
        "hit@3": sum(r <= 3 for r in ranks) / n,
        "mrr": sum(1 / r for r in ranks) / n,
    }


Components = tuple[Matrix, Matrix, Matrix, Matrix]


def _semantic(c: Components, prototype: float) -> Matrix:
    blended: Matrix = (1 - prototype) * c[0] + prototype * c[1]
    return blended


def _fused(c: Components, w: FusionWeights) -> Matrix:
    fused: Matrix = w.semantic * _semantic(c, w.prototype) + w.stems * c[2] + w.chars * c[3]
    return fused


def tune(dev: list[tuple[SearchIndex, list[Query], str]]) -> FusionWeights:
    """Grid-search the fusion weights for mean dev hit@1 (ties: higher MRR)."""
    cached = [
        ([index.components(q, lang) for q, _ in qs], [index.ids(lang).index(e) for _, e in qs])
        for index, qs, lang in dev
    ]
    best: tuple[float, float, FusionWeights] | None = None
    grid = [x / 10 for x in range(11)]
    for ws, wl, wp in itertools.product(grid, grid, (0.0, 0.25, 0.5, 0.75, 1.0)):
        wc = round(1 - ws - wl, 2) + 0.0  # + 0.0 turns -0.0 into 0.0
        if wc < 0:
            continue
        weights = FusionWeights(semantic=ws, stems=wl, chars=wc, prototype=wp)
        hit = mrr = 0.0
        for comps, expected in cached:
            m = _metrics([_fused(c, weights) for c in comps], expected)
            hit += m["hit@1"] / len(cached)
            mrr += m["mrr"] / len(cached)
        if best is None or (hit, mrr) > (best[0], best[1]):
            best = (hit, mrr, weights)
    assert best is not None
    print(
        f"tuned weights: semantic={best[2].semantic} stems={best[2].stems} chars={best[2].chars} "
        f"prototype={best[2].prototype} dev hit@1={best[0]:.3f}"
    )
    return best[2]


def seed_halves(seed: list[Article]) -> tuple[list[Article], dict[str, list[Query]]]:
    """Dev data from the seed alone: even questions indexed, odd ones queried."""
    indexed = [a.with_changes(questions={lang: qs[0::2] for lang, qs in a.questions.items()}) for a in seed]
    queries = {lang: [(q, a.id) for a in seed for q in a.questions.get(lang, [])[1::2]] for lang in ("ru", "en")}
    return indexed, queries


def banking77(rng: random.Random) -> tuple[list[Article], list[Query], list[Query]]:
    by_cat: dict[str, list[str]] = defaultdict(list)
    with BANKING77.open() as f:
        for row in csv.DictReader(f):
            by_cat[row["category"]].append(row["text"])
    articles, dev, test = [], [], []
    for cat, texts in sorted(by_cat.items()):
        rng.shuffle(texts)
        articles.append(_article(cat, {"en": texts[:10]}))
        dev += [(t, cat) for t in texts[10:20]]
        test += [(t, cat) for t in texts[20:60]]
    return articles, dev, test


def tune_thresholds(index: SearchIndex, positives: list[Query], lang_of: list[str], negatives: list[str]) -> Thresholds:
    """Pick thresholds on dev data: off-topic questions mostly refused, confident answers almost always right.

    suggest: the 90th percentile of off-topic top scores (9 in 10 off-topic questions get an honest miss).
    answer + margin: the lowest pair whose confident answers on dev are right at least 95 % of the time,
    answering as many as possible.
    """
    tops = []
    for (q, expected), lang in zip(positives, lang_of, strict=True):
        hits = index.search(q, lang, 3)
        first = hits[0].score if hits else 0.0
        second = hits[1].score if len(hits) > 1 else 0.0
        tops.append((first, first - second, bool(hits) and hits[0].id == expected))
    neg = sorted(_top_score(index, q) for q in negatives)
    suggest = round(neg[int(len(neg) * 0.9) - 1] + 0.005, 3)
    best = (0.0, Thresholds(answer=1.0, margin=1.0, suggest=suggest))
    for answer in np.arange(suggest, 1.0, 0.01):
        for margin in np.arange(0.0, 0.2, 0.01):
            chosen = [ok for s, m, ok in tops if s >= answer and m >= margin]
            if chosen and sum(chosen) / len(chosen) >= 0.95 and len(chosen) / len(tops) > best[0]:
                best = (
                    len(chosen) / len(tops),
                    Thresholds(answer=round(float(answer), 3), margin=round(float(margin), 3), suggest=suggest),
                )
    t = best[1]
    print(f"tuned thresholds: answer={t.answer} margin={t.margin} suggest={t.suggest} (dev answered {best[0]:.2f})")
    return t


def _top_score(index: SearchIndex, query: str) -> float:
    hits = index.search(query, "ru", 1)
    return hits[0].score if hits else 0.0


def _print(label: str, figures: dict[str, dict[str, float]]) -> None:
    for ranker, m in figures.items():
        print(f"{label} {ranker}: hit@1={m['hit@1']:.3f} hit@3={m['hit@3']:.3f} mrr={m['mrr']:.3f}")


def decisions(index: SearchIndex, eval_set: dict[str, Any], lang: str) -> None:
    """How the thresholds decide on the eval questions (right answer / clarify / miss) and on misses."""
    counts: defaultdict[str, int] = defaultdict(int)
    for item in eval_set[lang]:
        result = index.query(item["q"], lang)
        right = result.hits and result.hits[0].id == item["expected"]
        counts[f"{result.decision.value}_{'right' if right else 'wrong'}"] += 1
    n = len(eval_set[lang])
    misses = eval_set["misses"][lang]
    miss_ok = sum(index.query(q, lang).decision.value == "miss" for q in misses)
    answered_wrong = counts["answer_wrong"] / n
    print(
        f"decisions {lang}: answered right={counts['answer_right'] / n:.3f} answered wrong={answered_wrong:.3f} "
        f"clarify={(counts['clarify_right'] + counts['clarify_wrong']) / n:.3f} "
        f"miss={(counts['miss_right'] + counts['miss_wrong']) / n:.3f} off-topic refused={miss_ok}/{len(misses)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", help="embedding model spec(s); default: the configured one")
    parser.add_argument("--speed", action="store_true", help="also the speed figures (bench/kb_speed.py)")
    parser.add_argument("--speed-only", action="store_true", help="only the speed figures")
    parser.add_argument("--no-banking77", action="store_true")
    parser.add_argument(
        "--sizes", default="32,1000,10000", help="article counts for --speed (comma-separated; default 32,1000,10000)"
    )
    args = parser.parse_args()
    from knowledge_base.config import default_model

    seed = load_seed()
    eval_set = yaml.safe_load((DATA / "kb_eval.yaml").read_text())
    rng = random.Random(42)
    b_articles, b_dev, b_test = banking77(rng)
    sizes = [int(n) for n in args.sizes.split(",")]
    if args.speed_only:
        for spec in args.model or [default_model()]:
            print(f"== model {spec}")
            kb_speed.run(spec, sizes)
        return
    for spec in args.model or [default_model()]:
        encoder = load_encoder(spec)
        print(f"== model {spec}")
        indexed, halves = seed_halves(seed)
        half_index = SearchIndex(indexed, encoder)
        dev = [(half_index, halves["ru"], "ru"), (half_index, halves["en"], "en")]
        b_index = None
        if not args.no_banking77:
            b_index = SearchIndex(b_articles, encoder)
            dev.append((b_index, b_dev, "en"))
        weights = tune(dev)
        tuned_half = SearchIndex(indexed, encoder, weights=weights)
        off_topic = [line.strip() for line in (DATA / "off_topic.txt").read_text().splitlines() if line.strip()]
        positives = halves["ru"] + halves["en"]
        thresholds = tune_thresholds(
            tuned_half, positives, ["ru"] * len(halves["ru"]) + ["en"] * len(halves["en"]), off_topic
        )
        index = SearchIndex(seed, encoder, weights=weights, thresholds=thresholds)
        for lang in ("ru", "en"):
            _print(f"kb-eval {lang}", evaluate(index, [(i["q"], i["expected"]) for i in eval_set[lang]], lang))
            decisions(index, eval_set, lang)
        if b_index is not None:
            b_index = SearchIndex(b_articles, encoder, weights=weights)
            _print("banking77 10-shot", evaluate(b_index, b_test, "en"))
        if args.speed:
            kb_speed.run(spec, sizes)


if __name__ == "__main__":
    main()
