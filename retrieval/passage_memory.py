"""Passage rows, the vector -> passage map and the stored vectors of a small knowledge
base, held in memory.

Every search reads rows and owners for its hits, and the vectors of lexical matches the
vector search missed; from SQLite that was three queries per batch of messages, the last
one per message. A store within `bm25_memory.MAX_PASSAGES` is read once per FAISS
generation instead (the demo's 9,606 passages: 15 MB of vectors). `PassageMemory` answers
the calls `KnowledgeStore` answers, with the same results, so the index uses either.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

import numpy as np

from retrieval import bm25_memory
from retrieval.kb_store import PASSAGE_COLUMNS, KnowledgeStore


class PassageMemory:
    def __init__(self, owners: dict[int, int], rows: dict[int, dict], vectors: PassageVectors):
        self._owners = owners
        self._rows = rows
        self._vectors = vectors

    @classmethod
    def load(cls, store: KnowledgeStore) -> PassageMemory | None:
        """A snapshot of `store`, or None when it is too large to hold."""
        if store.counts()[1] > bm25_memory.MAX_PASSAGES:
            return None
        columns = ", ".join(PASSAGE_COLUMNS)
        rows = {
            row[0]: dict(zip(PASSAGE_COLUMNS, row[1:], strict=True))
            for row in store.db.execute(f"SELECT id, {columns} FROM passages")
        }
        stored = store.db.execute("SELECT id, passage_id, vector FROM vectors").fetchall()
        owners = {vector_id: passage_id for vector_id, passage_id, _ in stored}
        return cls(owners, rows, PassageVectors(stored, int(store.meta()["dimension"])))

    def vector_owners(self, vector_ids: Iterable[int]) -> dict[int, int]:
        """vector id -> passage id, for the ids that still exist."""
        owners = self._owners
        return {int(i): owners[int(i)] for i in vector_ids if int(i) in owners}

    def passages(self, passage_ids: Iterable[int]) -> dict[int, dict]:
        rows = self._rows
        return {int(i): dict(rows[int(i)]) for i in passage_ids if int(i) in rows}

    def passage_with_answer(self, answer: str) -> dict | None:
        passage_id = self._by_answer.get(answer)
        return None if passage_id is None else dict(self._rows[passage_id])

    @cached_property
    def _by_answer(self) -> dict[str, int]:
        """Answer text -> its first passage, built on the first lookup of a generation."""
        by_answer: dict[str, int] = {}
        for passage_id in sorted(self._rows):
            by_answer.setdefault(self._rows[passage_id]["answer"], passage_id)
        return by_answer

    def passage_vectors(self, passage_ids: Iterable[int], dimension: int):
        """(passage id per vector, vectors) of the given passages' search texts."""
        return self._vectors.of(passage_ids)


class PassageVectors:
    """Stored vectors grouped by passage: one slice of one matrix per passage."""

    def __init__(self, stored: list[tuple[int, int, bytes]], dimension: int):
        stored = sorted(stored, key=lambda row: (row[1], row[0]))  # by passage, then vector
        self.owners = np.asarray([row[1] for row in stored], dtype=np.int64)
        blob = b"".join(row[2] for row in stored)
        self.matrix = np.frombuffer(blob, dtype=np.float32).reshape(-1, dimension)
        passages, starts = np.unique(self.owners, return_index=True)
        bounds = np.append(starts, len(self.owners))
        self._spans = {
            int(passage): (int(bounds[i]), int(bounds[i + 1])) for i, passage in enumerate(passages)
        }

    def of(self, passage_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        spans = [self._spans[i] for i in sorted({int(i) for i in passage_ids}) if i in self._spans]
        if not spans:
            return self.owners[:0], self.matrix[:0]
        rows = np.concatenate([np.arange(start, end) for start, end in spans])
        return self.owners[rows], self.matrix[rows]
