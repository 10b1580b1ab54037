"""Passage rows and the vector -> passage map of a small knowledge base, held in memory.

Every search reads both for its hits; from SQLite that was two queries per batch of
messages. A store within `bm25_memory.MAX_PASSAGES` is read once per FAISS generation
instead (a few MB for 10,000 passages). `PassageMemory` answers the two calls
`KnowledgeStore` answers, with the same results, so the index uses either.
"""

from __future__ import annotations

from collections.abc import Iterable

from retrieval import bm25_memory
from retrieval.kb_store import PASSAGE_COLUMNS, KnowledgeStore


class PassageMemory:
    def __init__(self, owners: dict[int, int], rows: dict[int, dict]):
        self._owners = owners
        self._rows = rows

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
        owners = dict(store.db.execute("SELECT id, passage_id FROM vectors").fetchall())
        return cls(owners, rows)

    def vector_owners(self, vector_ids: Iterable[int]) -> dict[int, int]:
        """vector id -> passage id, for the ids that still exist."""
        owners = self._owners
        return {int(i): owners[int(i)] for i in vector_ids if int(i) in owners}

    def passages(self, passage_ids: Iterable[int]) -> dict[int, dict]:
        rows = self._rows
        return {int(i): dict(rows[int(i)]) for i in passage_ids if int(i) in rows}
