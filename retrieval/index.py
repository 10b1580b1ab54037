"""Hybrid search over knowledge-base passages and resolved question/answer pairs.

`PassageIndex` reads the knowledge-base store (`retrieval/kb_store.py`) and the FAISS
generation it names. Before each search it checks the store's generation, one indexed
SQLite read, and loads the new FAISS file when `supportbot kb` changed it, so a running
server sees knowledge-base changes without a restart.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.bm25_memory import MemoryBM25
from retrieval.hybrid import LEXICAL_WEIGHT, Fused, fuse, identifiers, phrase, query_terms
from retrieval.kb_store import KnowledgeStore
from retrieval.knowledge_base import load_current_index, open_store
from retrieval.model_dir import RetrievalInfo
from retrieval.passage_memory import PassageMemory
from retrieval.vector_index import kind_of, search_vectors, set_nprobe

if TYPE_CHECKING:
    import faiss

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
DENSE_DEPTH = 50
"""Vectors fetched per query: several search texts of one passage can fill the top."""
LEXICAL_DEPTH = 30


@dataclass(frozen=True)
class Passage:
    """What a hit can answer with. `kind` is "article" (help text) or "qa" (question, answer).
    `key` is the answer key of a resolved question (its intent), used to calibrate."""

    kind: str
    title: str
    answer: str
    source: str
    question: str | None = None
    url: str | None = None
    key: str | None = None

    def search_texts(self) -> list[str]:
        """The texts embedded for this passage: the question of a pair; an article's title
        with its body, the title alone, and each sentence alone, because a short question
        matches a heading or one sentence far better than a whole paragraph."""
        if self.question:
            return [self.question]
        sentences = [s.strip() for s in _SENTENCE_END.split(self.answer) if len(s.split()) >= 3]
        whole = f"{self.title}\n{self.answer}"
        title = [self.title] if len(self.title.split()) >= 2 else []
        return [whole, *title] + (sentences if len(sentences) > 1 else [])

    def to_row(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Hit:
    passage_id: int
    score: float
    """Fused score: cosine + lexical weight * relative BM25; the abstain threshold's scale."""
    passage: Passage
    dense: float = 0.0
    lexical: float = 0.0
    exact: float = 0.0

    def to_json(self) -> dict:
        return {
            "id": self.passage_id,
            "score": round(self.score, 4),
            "dense": round(self.dense, 4),
            "lexical": round(self.lexical, 4),
            "exact": round(self.exact, 4),
            "kind": self.passage.kind,
            "title": self.passage.title,
            "source": self.passage.source,
            "url": self.passage.url,
        }


@dataclass(frozen=True)
class SearchSettings:
    lexical_weight: float = LEXICAL_WEIGHT
    nprobe: int = 32


@dataclass
class _Generation:
    """What one FAISS generation of the store is searched with."""

    number: int
    vectors: faiss.Index
    bm25: MemoryBM25 | None
    rows: PassageMemory | None


class PassageIndex:
    """Safe to share between threads; searches are serialised by a lock.

    A new generation (after `supportbot kb add` or `remove`) is loaded outside that lock,
    through a connection of its own, and swapped in when complete: loading the demo's
    9,606 passages takes about 0.9 s, which every search and every knowledge-base class
    lookup used to wait for."""

    def __init__(self, store: KnowledgeStore, settings: SearchSettings):
        self.store = store
        self.settings = settings
        self.dimension = int(store.meta()["dimension"])
        self._lock = threading.Lock()
        self._loading = threading.Lock()
        self.generation = -1
        self.vectors: faiss.Index
        self.bm25: MemoryBM25 | None = None
        """BM25 from memory; None for stores too large for it, which FTS5 answers."""
        self.rows: PassageMemory | KnowledgeStore = store
        """Where passage rows, vector owners and stored vectors are read: memory when the
        store is small."""
        self._install(self._load(store))

    @classmethod
    def open(cls, model_dir: Path, info: RetrievalInfo) -> PassageIndex:
        """The store of this model, checked to be the one training wrote for it."""
        store = open_store(model_dir, info, readonly=True)
        return cls(store, SearchSettings(info.lexical_weight, info.nprobe))

    @property
    def kind(self) -> str:
        return kind_of(self.vectors)

    def __len__(self) -> int:
        return self.store.counts()[1]

    def sync(self) -> None:
        """Load the store's current generation if a writer committed a new one; searches
        go on meanwhile with the one they have. `search` does this itself; a caller about
        to look passages up by answer does it once per batch (`BotModel.analyse`). When
        another thread is already loading, this returns at once."""
        if self.store_generation() == self.generation:
            return
        if not self._loading.acquire(blocking=False):
            return
        try:
            if self.store_generation() != self.generation:
                reader = KnowledgeStore(self.store.model_dir, readonly=True)
                try:
                    loaded = self._load(reader)
                finally:
                    reader.close()
                with self._lock:
                    self._install(loaded)
        finally:
            self._loading.release()

    def store_generation(self) -> int:
        with self._lock:
            return self.store.generation()

    @staticmethod
    def _load(store: KnowledgeStore) -> _Generation:
        number, vectors = load_current_index(store)
        bm25 = MemoryBM25.build(store.db.conn)
        return _Generation(number, vectors, bm25, PassageMemory.load(store))

    def _install(self, loaded: _Generation) -> None:
        """Under the lock (or before the index is shared)."""
        set_nprobe(loaded.vectors, self.settings.nprobe)
        self.generation, self.vectors, self.bm25 = loaded.number, loaded.vectors, loaded.bm25
        self.rows = loaded.rows or self.store

    def search(self, texts: list[str], vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """The k best passages per message, from its text (BM25) and its vector (dense)."""
        self.sync()
        with self._lock:
            dense = self._dense(vectors)
            ranked = [
                self._rank(text, vector, scores, k)
                for text, vector, scores in zip(texts, vectors, dense, strict=True)
            ]
            rows = self.rows.passages({f.passage_id for fused in ranked for f in fused})
        return [
            [
                Hit(
                    f.passage_id,
                    f.score,
                    Passage(**rows[f.passage_id]),
                    f.dense,
                    f.lexical,
                    f.exact,
                )
                for f in fused
                if f.passage_id in rows
            ]
            for fused in ranked
        ]

    def passage_with_answer(self, answer: str) -> Passage | None:
        """A passage giving exactly this answer, or None since it was removed or edited:
        what a knowledge-base class of the classifier answers with. Read from the
        generation last loaded (call `sync` first): checking the store's generation on
        every lookup would be a SQLite read per message."""
        with self._lock:
            row = self.rows.passage_with_answer(answer)
        return Passage(**row) if row else None

    def _dense(self, vectors: np.ndarray) -> list[dict[int, float]]:
        """Best cosine per passage among each query's nearest vectors."""
        if self.vectors.ntotal == 0:
            return [{} for _ in range(len(vectors))]
        scores, ids = search_vectors(self.vectors, vectors, DENSE_DEPTH)
        owners = self.rows.vector_owners({int(i) for i in ids.ravel() if i >= 0})
        results = []
        for row_scores, row_ids in zip(scores, ids, strict=True):
            best: dict[int, float] = {}
            for score, vector_id in zip(row_scores, row_ids, strict=True):
                passage_id = owners.get(int(vector_id))
                if passage_id is not None and passage_id not in best:
                    best[passage_id] = float(score)
            results.append(best)
        return results

    def _rank(self, text: str, vector: np.ndarray, dense: dict[int, float], k: int) -> list[Fused]:
        lexical = self._lexical(query_terms(text))
        exact = self._exact(text)
        missing = {pid for pid, _ in lexical if pid not in dense} | (exact.keys() - dense.keys())
        if missing:
            owners, stored = self.rows.passage_vectors(missing, self.dimension)
            for passage_id, cosine in zip(owners, stored @ vector, strict=True):
                dense[int(passage_id)] = max(float(cosine), dense.get(int(passage_id), -1.0))
        lexical = [(pid, score) for pid, score in lexical if pid in dense]
        return fuse(dense, lexical, self.settings.lexical_weight, exact, limit=k)

    def _lexical(self, phrases: list[str]) -> list[tuple[int, float]]:
        """The best BM25 matches of any of the phrases: from memory when it can answer,
        else from FTS5 (the same scores, slower)."""
        if not phrases:
            return []
        found = self.bm25.search(phrases, LEXICAL_DEPTH) if self.bm25 else None
        if found is not None:
            return found
        return self.store.lexical(" OR ".join(map(phrase, phrases)), LEXICAL_DEPTH)

    def _exact(self, text: str) -> dict[int, float]:
        """Share of the message's identifiers each passage contains, as an exact phrase."""
        terms = identifiers(text)
        shares: dict[int, float] = {}
        for term in terms:
            for passage_id, _ in self._lexical([term]):
                shares[passage_id] = shares.get(passage_id, 0.0) + 1 / len(terms)
        return shares
