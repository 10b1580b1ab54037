"""FTS5's BM25, served from memory for knowledge bases of ordinary size.

An FTS5 OR-query scores every row that holds any of its terms, so a common word ("card"
in a bank's knowledge base) costs about 15 ms per message on 10,000 passages: more than
the encoder. `MemoryBM25` reads FTS5's own index once (the `fts5vocab` table, so tokens
are exactly FTS5's porter tokens) into a sparse passage x term matrix of BM25 term
weights, and answers a query with one sparse product: the same scores as FTS5's `bm25()`
(k1 = 1.2, b = 0.75, all columns weighted 1) in a fraction of a millisecond.

A phrase that is more than one token ("e-4012" is `e` then `4012`) needs token positions;
`search` returns None for those queries and the caller asks FTS5. Stores larger than
MAX_PASSAGES stay on FTS5 too, to bound memory and the rebuild after a change.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import sparse

K1 = 1.2
B = 0.75
MIN_IDF = 1e-6
"""FTS5 replaces a non-positive IDF (a term in over half the rows) by this."""
MAX_PASSAGES = 50_000
"""About 4 s to build and 20 MB per 10,000 passages; beyond this FTS5 answers."""


@dataclass(frozen=True)
class _Postings:
    weights: sparse.csc_matrix
    """Passage row x term: BM25 weight of the term in the passage, without its IDF."""
    idf: np.ndarray
    passage_ids: np.ndarray
    """Row -> passage id (the FTS5 rowid)."""
    vocabulary: dict[str, int]


class MemoryBM25:
    """Safe to call from one thread at a time (the index's lock serialises searches)."""

    def __init__(self, postings: _Postings):
        self._postings = postings
        self._tokenizer = _PorterTokenizer()

    @classmethod
    def build(cls, db: sqlite3.Connection, table: str = "passages_fts") -> MemoryBM25 | None:
        """From the FTS5 index `table` of connection `db`; None when the store is too large."""
        rows = db.execute(f"SELECT COUNT(*) FROM {table}_docsize").fetchone()[0]
        if rows > MAX_PASSAGES:
            return None
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{table}_instances "
                   f"USING fts5vocab(main, {table}, instance)")  # fmt: skip
        counts = db.execute(
            f"SELECT doc, term, COUNT(*) FROM temp.{table}_instances GROUP BY doc, term"
        ).fetchall()
        return cls(_postings(counts, rows))

    def search(self, phrases: list[str], depth: int) -> list[tuple[int, float]] | None:
        """(passage id, BM25 score, higher is better) of the `depth` best passages holding
        any phrase, as FTS5's `MATCH "a" OR "b"` ranks them; None if a phrase has several
        tokens."""
        columns: list[int] = []
        for phrase in phrases:
            tokens = self._tokenizer.tokens(phrase)
            if len(tokens) != 1:
                return None
            column = self._postings.vocabulary.get(tokens[0])
            if column is not None:
                columns.append(column)
        if not columns:
            return []
        weights = self._postings.weights
        spans = [slice(weights.indptr[c], weights.indptr[c + 1]) for c in columns]
        rows = np.concatenate([weights.indices[span] for span in spans])
        idf = self._postings.idf
        values = np.concatenate(
            [weights.data[span] * idf[c] for span, c in zip(spans, columns, strict=True)]
        )
        scores = np.bincount(rows, weights=values, minlength=weights.shape[0])
        # Every weight and IDF is positive, so the passages holding a term are the non-zeros.
        best = best_rows(scores, np.flatnonzero(scores), depth)
        ids = self._postings.passage_ids[best]
        return [(int(i), float(s)) for i, s in zip(ids, scores[best], strict=True)]


def best_rows(scores: np.ndarray, candidates: np.ndarray, depth: int) -> np.ndarray:
    """The `depth` best of `candidates` (ascending row numbers), best first; ties in row
    order, which is passage id order, as FTS5 breaks them."""
    if len(candidates) > depth:
        cutoff = np.partition(scores[candidates], len(candidates) - depth)[-depth]
        candidates = candidates[scores[candidates] >= cutoff]
    return candidates[np.argsort(-scores[candidates], kind="stable")][:depth]


def _postings(counts: list[tuple[int, str, int]], total_rows: int) -> _Postings:
    """BM25 weights from (passage id, token, count) triples, as fts5_aux.c computes them:
    document length is all the row's tokens; the average is over every row of the index."""
    passage_ids = np.array(sorted({doc for doc, _, _ in counts}), dtype=np.int64)
    row_of = {int(pid): row for row, pid in enumerate(passage_ids)}
    vocabulary: dict[str, int] = {}
    rows = np.fromiter((row_of[doc] for doc, _, _ in counts), np.int64, len(counts))
    columns = np.fromiter(
        (vocabulary.setdefault(term, len(vocabulary)) for _, term, _ in counts),
        np.int64,
        len(counts),
    )
    frequency = np.fromiter((n for _, _, n in counts), np.float64, len(counts))
    length = np.bincount(rows, weights=frequency, minlength=len(passage_ids))
    average = frequency.sum() / max(total_rows, 1)
    norm = K1 * (1 - B + B * length[rows] / max(average, 1e-9))
    weight = frequency * (K1 + 1) / (frequency + norm)
    shape = (len(passage_ids), len(vocabulary))
    matrix = sparse.csc_matrix((weight, (rows, columns)), shape=shape)
    holding = np.bincount(columns, minlength=len(vocabulary))
    idf = np.log((total_rows - holding + 0.5) / (holding + 0.5))
    return _Postings(matrix, np.where(idf > 0, idf, MIN_IDF), passage_ids, vocabulary)


class _PorterTokenizer:
    """FTS5's own `porter` tokenizer, through a private in-memory table, so a query's
    tokens are the index's tokens (stemming, case folding, diacritics) by construction."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute("CREATE VIRTUAL TABLE words USING fts5(word, tokenize='porter')")
        self._db.execute("CREATE VIRTUAL TABLE tokens USING fts5vocab(words, instance)")
        self.tokens = lru_cache(maxsize=65_536)(self._tokens)

    def _tokens(self, phrase: str) -> tuple[str, ...]:
        self._db.execute("DELETE FROM words")
        self._db.execute("INSERT INTO words (word) VALUES (?)", [phrase])
        return tuple(t for (t,) in self._db.execute("SELECT term FROM tokens ORDER BY offset"))
