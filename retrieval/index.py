"""FAISS index over knowledge-base passages and resolved question/answer pairs.

Vectors are L2-normalised, so inner product is cosine similarity. Passage text and
metadata live beside the index in a JSON-lines id map; FAISS ids are row numbers in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from bot.errors import ModelError

INDEX_FILE = "index/passages.faiss"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
PASSAGES_FILE = "index/passages.jsonl"


@dataclass(frozen=True)
class Passage:
    """What a hit can answer with. `kind` is "article" (help text) or "qa" (question, answer)."""

    kind: str
    title: str
    answer: str
    source: str
    question: str | None = None
    url: str | None = None

    def search_texts(self) -> list[str]:
        """The texts embedded for this passage, all under its id: the question of a pair; an
        article's title with its body, the title alone, and each sentence alone, because a
        short question matches a heading or one sentence far better than a whole paragraph."""
        if self.question:
            return [self.question]
        sentences = [s.strip() for s in _SENTENCE_END.split(self.answer) if len(s.split()) >= 3]
        whole = f"{self.title}\n{self.answer}"
        title = [self.title] if len(self.title.split()) >= 2 else []
        return [whole, *title] + (sentences if len(sentences) > 1 else [])


@dataclass(frozen=True)
class Hit:
    passage_id: int
    score: float
    passage: Passage

    def to_json(self) -> dict:
        return {
            "id": self.passage_id,
            "score": round(self.score, 4),
            "kind": self.passage.kind,
            "title": self.passage.title,
            "source": self.passage.source,
        }


class PassageIndex:
    def __init__(self, index: faiss.Index, passages: list[Passage]):
        if index.ntotal < len(passages):
            raise ModelError(
                f"retrieval index holds {index.ntotal} vectors for {len(passages)} passages"
            )
        self.index = index
        self.passages = passages

    @classmethod
    def build(cls, encode: Callable[[list[str]], np.ndarray], passages: list[Passage]):
        """Embed every search text of every passage; a passage's vectors share its id."""
        texts, ids = [], []
        for passage_id, passage in enumerate(passages):
            for text in passage.search_texts():
                texts.append(text)
                ids.append(passage_id)
        vectors = encode(texts)
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
        index.add_with_ids(vectors, np.array(ids, dtype=np.int64))
        return cls(index, passages)

    def __len__(self) -> int:
        return len(self.passages)

    def search(self, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        if len(self.passages) == 0:
            return [[] for _ in range(len(vectors))]
        depth = min(self.index.ntotal, k * 4)
        scores, ids = self.index.search(vectors, depth)
        return [
            self._best_per_passage(row_s, row_i, k)
            for row_s, row_i in zip(scores, ids, strict=True)
        ]

    def _best_per_passage(self, scores: np.ndarray, ids: np.ndarray, k: int) -> list[Hit]:
        """Results come best first, so the first vector seen of a passage is its best."""
        hits: dict[int, Hit] = {}
        for score, passage_id in zip(scores, ids, strict=True):
            if passage_id >= 0 and int(passage_id) not in hits:
                hits[int(passage_id)] = Hit(
                    int(passage_id), float(score), self.passages[passage_id]
                )
        return list(hits.values())[:k]

    def save(self, model_dir: Path) -> list[str]:
        (model_dir / INDEX_FILE).parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(model_dir / INDEX_FILE))
        with open(model_dir / PASSAGES_FILE, "w", encoding="utf-8") as out:
            for passage_id, passage in enumerate(self.passages):
                out.write(json.dumps({"id": passage_id, **asdict(passage)}) + "\n")
        return [INDEX_FILE, PASSAGES_FILE]

    @classmethod
    def load(cls, model_dir: Path) -> PassageIndex:
        index = faiss.read_index(str(model_dir / INDEX_FILE))
        passages = []
        with open(model_dir / PASSAGES_FILE, encoding="utf-8") as rows:
            for line_number, line in enumerate(rows, start=1):
                row = json.loads(line)
                if row.pop("id") != line_number - 1:
                    raise ModelError(f"{model_dir / PASSAGES_FILE}:{line_number}: ids out of order")
                passages.append(Passage(**row))
        return cls(index, passages)
