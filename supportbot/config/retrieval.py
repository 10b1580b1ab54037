"""The `retrieval:` section: the knowledge base's search and its abstain threshold."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from supportbot.config.base import Strict


class RetrievalConfig(Strict):
    """The knowledge base: passages from help articles and resolved dialogues, searched by
    meaning (FAISS) and by words (SQLite FTS5 BM25) together."""

    min_score: float | None = Field(default=None, ge=-1, le=2)
    """Abstain from answering from retrieval below this fused score. Unset: calibrated at
    training on held-out questions (answer known) against out-of-scope ones."""
    fallback_min_score: float = Field(default=0.6, ge=-1, le=2)
    """The threshold used when the data is too thin to calibrate one."""
    top_k: int = Field(default=3, gt=0)
    include_dialogue_pairs: bool = True
    lexical_weight: float = Field(default=0.05, ge=0, le=1)
    """Weight of BM25 (relative to the best lexical match) added to the cosine score."""
    index: Literal["auto", "exact", "approximate"] = "auto"
    """auto: exact search up to `approximate_above` vectors, IVF above."""
    approximate_above: int = Field(default=10_000, gt=0)
    nprobe: int = Field(default=32, gt=0)
    """IVF lists searched per query (recall against speed)."""
