"""FTS5's BM25, served from memory for knowledge bases of ordinary size.

An FTS5 OR-query scores every row that holds any of its terms, so a common word ("card"
in a bank's knowledge base) costs 7-16 ms per message on 10,000 passages: more than the
encoder. `MemoryBM25` reads FTS5's own index once (the `fts5vocab` table, so tokens are
exactly FTS5's porter tokens) into a sparse passage x term matrix of BM25 term weights,
plus every token's positions for phrases of several tokens ("top-up" is `top` then
`up`). A query is answered with the same passages and scores as FTS5's `bm25()`
(k1 = 1.2, b = 0.75, all columns weighted 1) in a fraction of a millisecond.

Stores larger than MAX_PASSAGES stay on FTS5, to bound memory and the rebuild after a
knowledge-base change.
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
"""Beyond this FTS5 answers. The demo's 9,606 passages (634,735 tokens) take 1.4-2.4 s to
read and about 18 MB of arrays."""


@dataclass(frozen=True)
class _Postings:
    weights: sparse.csc_matrix
    """Passage row x term: BM25 weight of the term in the passage, without its IDF."""
    idf: np.ndarray
    passage_ids: np.ndarray
    """Row -> passage id (the FTS5 rowid)."""
    vocabulary: dict[str, int]
    lengths: np.ndarray
    """Tokens per row, all columns: BM25's document length."""
    average_length: float
    total_rows: int
    tokens: _TokenSequence


@dataclass(frozen=True)
class _TokenSequence:
    """Every token of every row in order, to find phrases: token id, row, column and
    offset per position, and per token id the positions where it occurs."""

    token: np.ndarray
    row: np.ndarray
    column: np.ndarray
    offset: np.ndarray
    starts: np.ndarray
    """Token id -> slice of `by_token` (CSR pointers)."""
    by_token: np.ndarray

    def phrase_counts(self, token_ids: list[int], rows: int) -> np.ndarray:
        """Per row, how often the tokens occur one after another in one column."""
        first = token_ids[0]
        at = self.by_token[self.starts[first] : self.starts[first + 1]]
        for step, token_id in enumerate(token_ids[1:], start=1):
            at = at[at + step < len(self.token)]
            follow = at + step
            at = at[
                (self.token[follow] == token_id)
                & (self.row[follow] == self.row[at])
                & (self.column[follow] == self.column[at])
                & (self.offset[follow] == self.offset[at] + step)
            ]
        return np.bincount(self.row[at], minlength=rows)


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
        instances = db.execute(
            f"SELECT doc, col, offset, term FROM temp.{table}_instances ORDER BY doc, col, offset"
        ).fetchall()
        return cls(_postings(instances, rows))

    def search(self, phrases: list[str], depth: int) -> list[tuple[int, float]] | None:
        """(passage id, BM25 score, higher is better) of the `depth` best passages holding
        any phrase, as FTS5's `MATCH "a" OR "b"` ranks them; None (ask FTS5) if a phrase
        has no token at all."""
        postings = self._postings
        scores = np.zeros(len(postings.passage_ids))
        for phrase in phrases:
            tokens = self._tokenizer.tokens(phrase)
            if not tokens:
                return None
            found = [postings.vocabulary.get(token) for token in tokens]
            ids = [i for i in found if i is not None]
            if len(ids) < len(found):
                continue  # a token no passage has: the phrase matches nothing
            if len(ids) == 1:
                self._add_term(scores, ids[0])
            else:
                self._add_phrase(scores, ids)
        # Every weight and IDF is positive, so the passages holding a phrase are non-zero.
        best = best_rows(scores, np.flatnonzero(scores), depth)
        ids = postings.passage_ids[best]
        return [(int(i), float(s)) for i, s in zip(ids, scores[best], strict=True)]

    def _add_term(self, scores: np.ndarray, column: int) -> None:
        weights = self._postings.weights
        span = slice(weights.indptr[column], weights.indptr[column + 1])
        scores[weights.indices[span]] += weights.data[span] * self._postings.idf[column]

    def _add_phrase(self, scores: np.ndarray, token_ids: list[int]) -> None:
        """A phrase is scored like a term whose occurrences are the phrase's (fts5_aux.c)."""
        postings = self._postings
        frequency = postings.tokens.phrase_counts(token_ids, len(postings.passage_ids))
        holding = np.flatnonzero(frequency)
        if not len(holding):
            return
        idf = _idf(postings.total_rows, len(holding))
        scores[holding] += idf * _term_weight(
            frequency[holding], postings.lengths[holding], postings.average_length
        )


def best_rows(scores: np.ndarray, candidates: np.ndarray, depth: int) -> np.ndarray:
    """The `depth` best of `candidates` (ascending row numbers), best first; ties in row
    order, which is passage id order, as FTS5 breaks them."""
    if len(candidates) > depth:
        cutoff = np.partition(scores[candidates], len(candidates) - depth)[-depth]
        candidates = candidates[scores[candidates] >= cutoff]
    return candidates[np.argsort(-scores[candidates], kind="stable")][:depth]


def _idf(total_rows: int, holding):
    """FTS5's IDF, with a non-positive one (a phrase in over half the rows) set to 1e-6."""
    idf = np.log((total_rows - holding + 0.5) / (np.asarray(holding) + 0.5))
    return np.where(idf > 0, idf, MIN_IDF)


def _term_weight(frequency: np.ndarray, length: np.ndarray, average: float) -> np.ndarray:
    norm = K1 * (1 - B + B * length / max(average, 1e-9))
    return frequency * (K1 + 1) / (frequency + norm)


def _postings(instances: list[tuple[int, str, int, str]], total_rows: int) -> _Postings:
    """BM25 weights and token positions from FTS5's (passage id, column, offset, token)
    rows, in that order. As fts5_aux.c: a document's length is all its tokens; the average
    is over every row of the index."""
    count = len(instances)
    docs = np.fromiter((doc for doc, _, _, _ in instances), np.int64, count)
    passage_ids, row = np.unique(docs, return_inverse=True)
    row = row.astype(np.int32)  # positions take 5 arrays of one number per token: halve them
    vocabulary: dict[str, int] = {}
    token = np.fromiter(
        (vocabulary.setdefault(term, len(vocabulary)) for _, _, _, term in instances),
        np.int32,
        count,
    )
    names: dict[str, int] = {}  # fts5vocab names the column
    column = np.fromiter(
        (names.setdefault(col, len(names)) for _, col, _, _ in instances), np.int32, count
    )
    offset = np.fromiter((off for _, _, off, _ in instances), np.int32, count)
    lengths = np.bincount(row, minlength=len(passage_ids)).astype(np.float64)
    average = count / max(total_rows, 1)
    shape = (len(passage_ids), len(vocabulary))
    counts = sparse.csc_matrix((np.ones(count), (row, token)), shape=shape)  # sums repeats
    counts.sum_duplicates()
    rows_of_entries = counts.indices
    counts.data = _term_weight(counts.data, lengths[rows_of_entries], average)
    holding = np.diff(counts.indptr)
    by_token = np.argsort(token, kind="stable").astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(np.bincount(token, minlength=len(vocabulary)))])
    sequence = _TokenSequence(token, row, column, offset, starts, by_token)
    return _Postings(
        counts, _idf(total_rows, holding), passage_ids, vocabulary, lengths, average,
        total_rows, sequence,
    )  # fmt: skip


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
