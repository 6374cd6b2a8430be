"""A BM25 ranker over any token lists (stems, character n-grams), with an inverted index for speed."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

# Robertson's usual constants; short FAQ documents make b matter less.
_K1 = 1.2
_B = 0.75


class Bm25:
    """BM25 scores of a query against a fixed set of documents (token lists)."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self.size = len(documents)
        lengths = [len(doc) for doc in documents]
        self._avg_len = (sum(lengths) / self.size) if self.size else 0.0
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, doc in enumerate(documents):
            for token, count in Counter(doc).items():
                postings[token].append((index, count))
        self._idf = {
            token: math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5)) for token, docs in postings.items()
        }
        # Precomputed per posting: the whole BM25 term weight except the idf.
        self._postings: dict[str, list[tuple[int, float]]] = {
            token: [
                (i, tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * lengths[i] / (self._avg_len or 1.0)))) for i, tf in docs
            ]
            for token, docs in postings.items()
        }

    def scores(self, query: Sequence[str]) -> dict[int, float]:
        """Scores of the documents that share at least one token with the query (others score 0)."""
        result: dict[int, float] = defaultdict(float)
        for token in set(query):
            idf = self._idf.get(token)
            if idf is None:
                continue
            for index, weight in self._postings[token]:
                result[index] += idf * weight
        return result

    def max_score(self, query: Sequence[str]) -> float:
        """The score a document containing every query token once would get: used to normalise to 0..1."""
        # An unknown token counts as the rarest: a query mostly about something else must not score high.
        unknown = math.log(1 + (self.size + 0.5) / 0.5)
        return sum(self._idf.get(token, unknown) * (_K1 + 1) / (1 + _K1 * (1 - _B)) for token in set(query)) or 1.0
