"""The response ranker's second stage: a linear re-ranker over the best candidates.

Why: the encoders score a reply by meaning, and among replies that mean much the same
("Your table at {restaurant} is booked") they cannot tell which one names the values this
conversation is about. Word overlap can: a reply whose rare words (names, places,
numbers) the conversation has used is likely the one, and a reply full of rare words it
has never seen belongs to another customer's dialogue. On SGD's held-out slice these
features over the ranker's own context window raised recall@1 of 100 by about a point
(docs/benchmarks.md). The weights are fitted at training time on held-out dialogues and
kept only when they beat the fused score there.

Features of a candidate, standardised with the training mean and spread:
the fused encoder score; the summed IDF of its rare words the context has used, and of
those it has not; the summed IDF of its words in the last `recent_turns` turns; its
numbers the context has not used; its count of rare words; log(1 + its word count).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from retrieval.ranker_text import split_context

_WORD = re.compile(r"[a-z0-9]+")
FEATURES = (
    "fused_score",
    "shared_rare_idf",
    "unseen_rare_idf",
    "recent_overlap_idf",
    "unseen_numbers",
    "rare_words",
    "log_length",
)
RARE_IDF = 4.0
"""A word in fewer than about 1 in 55 replies (e^4) counts as rare: a name, a place, a
number, rather than the words every reply template shares."""


def words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


@dataclass(frozen=True)
class Reranker:
    """IDF of the reply words seen in training, and the fitted linear weights."""

    idf: dict[str, float]
    unseen_idf: float
    mean: list[float]
    scale: list[float]
    weights: list[float]
    recent_turns: int = 3
    top_k: int = 20
    """How many of the best fused candidates a choice among a whole pool re-ranks."""

    @classmethod
    def from_json(cls, data: dict) -> Reranker:
        return cls(**data)

    def to_json(self) -> dict:
        return asdict(self)

    def features(
        self, context: str, replies: Sequence[frozenset[str]], fused: np.ndarray
    ) -> np.ndarray:
        """One row of `FEATURES` per reply (unstandardised)."""
        turns = [text for _speaker, text in split_context(context)]
        seen = words(" ".join(turns))
        recent = words(" ".join(turns[-self.recent_turns :]))
        rows = np.empty((len(replies), len(FEATURES)), dtype=np.float32)
        for i, reply in enumerate(replies):
            idf = [(word, self.idf.get(word, self.unseen_idf)) for word in reply]
            rare = [(word, weight) for word, weight in idf if weight > RARE_IDF]
            rows[i] = (
                fused[i],
                sum(weight for word, weight in rare if word in seen),
                sum(weight for word, weight in rare if word not in seen),
                sum(weight for word, weight in idf if word in recent),
                sum(1 for word in reply if word.isdigit() and word not in seen),
                len(rare),
                math.log1p(len(reply)),
            )
        return rows

    def rescore(
        self, context: str, replies: Sequence[frozenset[str]], fused: np.ndarray
    ) -> np.ndarray:
        """The re-ranker's score of each reply (higher is better)."""
        standard = (self.features(context, replies, fused) - self.mean) / self.scale
        return standard @ np.asarray(self.weights, dtype=np.float32)
