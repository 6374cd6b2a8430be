"""A BM25 ranker over any token lists (stems, character n-grams), with an inverted index in numpy arrays.

At 10,000 articles a common character trigram occurs in thousands of documents, and a query has
dozens of them: summing postings one by one in Python cost tens of milliseconds a query. The
postings live in flat arrays (documents and precomputed term weights, grouped by token), and a
query's scores are one `np.bincount`. The arithmetic is the same as the per-posting Python loop,
operation for operation in float64 and in the same order, so the scores are identical to the bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

# Robertson's usual constants; short FAQ documents make b matter less.
_K1 = 1.2
_B = 0.75

Scores = npt.NDArray[np.float64]


class Bm25:
    """BM25 scores of a query against a fixed set of documents (token lists)."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        self.size = len(documents)
        lengths = [len(doc) for doc in documents]
        self._avg_len = (sum(lengths) / self.size) if self.size else 0.0
        vocabulary: dict[str, int] = {}
        token_ids: list[int] = []
        for doc in documents:
            token_ids.extend([vocabulary.setdefault(token, len(vocabulary)) for token in doc])
        tokens = np.asarray(token_ids, dtype=np.int64)
        docs = np.repeat(np.arange(self.size, dtype=np.int64), lengths)
        # One entry per (token, document) pair, sorted by token then document, with the term frequency.
        pairs, tf = np.unique(tokens * max(self.size, 1) + docs, return_counts=True)
        posting_tokens = pairs // max(self.size, 1)
        self._docs = pairs % max(self.size, 1)
        frequencies = np.bincount(posting_tokens, minlength=len(vocabulary))
        self._starts = np.concatenate([[0], np.cumsum(frequencies)]).astype(np.int64)
        self._token_ids = vocabulary
        self._idf = {
            token: math.log(1 + (self.size - n + 0.5) / (n + 0.5))
            for token, n in zip(vocabulary, frequencies.tolist(), strict=True)
        }
        self._idf_by_id = list(self._idf.values())
        # Per posting: the whole BM25 term weight except the idf.
        doc_lengths = np.asarray(lengths, dtype=np.float64)[self._docs]
        self._weights: Scores = tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * doc_lengths / (self._avg_len or 1.0)))

    def dense_scores(self, query: Sequence[str]) -> Scores:
        """Every document's score in document order (0 for those sharing no token with the query)."""
        docs: list[npt.NDArray[np.int64]] = []
        contributions: list[Scores] = []
        for token in set(query):
            token_id = self._token_ids.get(token)
            if token_id is None:
                continue
            start, end = self._starts[token_id], self._starts[token_id + 1]
            docs.append(self._docs[start:end])
            contributions.append(self._idf_by_id[token_id] * self._weights[start:end])
        if not docs:
            return np.zeros(self.size, dtype=np.float64)
        # bincount adds each document's contributions in array order, i.e. token by token as a loop would.
        summed = np.bincount(np.concatenate(docs), weights=np.concatenate(contributions), minlength=self.size)
        return summed.astype(np.float64, copy=False)

    def max_score(self, query: Sequence[str]) -> float:
        """The score a document containing every query token once would get: used to normalise to 0..1."""
        # An unknown token counts as the rarest: a query mostly about something else must not score high.
        unknown = math.log(1 + (self.size + 0.5) / 0.5)
        return sum(self._idf.get(token, unknown) * (_K1 + 1) / (1 + _K1 * (1 - _B)) for token in set(query)) or 1.0
