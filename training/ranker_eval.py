"""1-of-N response selection (the SGD protocol): rank each true reply among itself and
N-1 agent replies drawn at random from the same split; report recall@1 and MRR.

Negatives whose text equals the true reply's are redrawn: the same words cannot be both
the right and a wrong answer. The draws are seeded and shared by every method measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.dialogue_pairs import ReplyPair


@dataclass(frozen=True)
class SelectionTask:
    """Per pair, the candidate rows (into `replies`); column 0 is the true reply."""

    pairs: list[ReplyPair]
    replies: list[str]
    """Distinct reply texts of the split."""
    candidates: np.ndarray


def selection_task(pairs: list[ReplyPair], size: int = 100, seed: int = 0) -> SelectionTask:
    replies = list(dict.fromkeys(p.reply for p in pairs))
    row = {text: i for i, text in enumerate(replies)}
    pool = np.array([row[p.reply] for p in pairs])
    rng = np.random.default_rng(seed)
    candidates = np.empty((len(pairs), size), dtype=np.int64)
    for i, pair in enumerate(pairs):
        true = row[pair.reply]
        drawn = pool[rng.integers(0, len(pool), size - 1)]
        while (clash := drawn == true).any():
            if len(set(pool.tolist())) < 2:
                raise ValueError("1-of-N selection needs at least two distinct replies")
            drawn[clash] = pool[rng.integers(0, len(pool), int(clash.sum()))]
        candidates[i, 0], candidates[i, 1:] = true, drawn
    return SelectionTask(pairs, replies, candidates)


@dataclass(frozen=True)
class SelectionScore:
    recall_at_1: float
    mrr: float
    count: int

    def to_json(self) -> dict:
        return {
            "recall_at_1": round(self.recall_at_1, 4),
            "mrr": round(self.mrr, 4),
            "count": self.count,
        }


def true_reply_ranks(task: SelectionTask, context_matrix, reply_matrix) -> np.ndarray:
    """1-based rank of the true reply per pair, scores being inner products of a context
    row with reply rows (dense arrays or scipy sparse matrices). A tie ranks it below."""
    ranks = np.empty(len(task.pairs), dtype=np.int64)
    for i, rows in enumerate(task.candidates):
        scores = reply_matrix[rows] @ context_matrix[i].T
        scores = np.asarray(scores.todense() if hasattr(scores, "todense") else scores).ravel()
        ranks[i] = 1 + int((scores[1:] >= scores[0]).sum())
    return ranks


def selection_score(ranks: np.ndarray) -> SelectionScore:
    return SelectionScore(float((ranks == 1).mean()), float((1.0 / ranks).mean()), len(ranks))
