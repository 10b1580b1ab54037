"""Fits the response ranker's re-ranker (retrieval/ranker_rerank.py) on held-out pairs.

The fit is a softmax over each context's 100 candidates (the true reply against 99
others), so the weights learn to put the true reply first, which is what the bot needs.
It is kept only if it beats the fused score when fitted on one half of the held-out
pairs and scored on the other, both ways round: a re-ranker that cannot show a gain on
data it did not see is not shipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np
import torch

from retrieval.ranker_rerank import Reranker, words
from training.ranker_eval import SelectionTask

Progress = Callable[[str], None]
L2 = 1e-3


def fit_reranker(
    task: SelectionTask,
    fused: np.ndarray,
    training_replies: list[str],
    seed: int,
    progress: Progress,
) -> tuple[Reranker | None, dict]:
    """`fused[i, k]`: the fused score of `task.candidates[i, k]` for `task.pairs[i]`
    (column 0 the true reply). Returns the re-ranker, or None when it does not pay."""
    idf, unseen = reply_idf(training_replies)
    draft = Reranker(idf, unseen, mean=[], scale=[], weights=[])
    reply_words = [words(text) for text in task.replies]
    features = np.stack(
        [
            draft.features(pair.context, [reply_words[j] for j in rows], fused[i])
            for i, (pair, rows) in enumerate(zip(task.pairs, task.candidates, strict=True))
        ]
    )
    mean = features.reshape(-1, features.shape[2]).mean(axis=0)
    scale = features.reshape(-1, features.shape[2]).std(axis=0) + 1e-6
    standard = (features - mean) / scale
    half = len(standard) // 2
    before, after = [], []
    for fit, held in ((slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))):
        weights = _fit(standard[fit], seed)
        before.append(_recall_at_1(fused[held]))
        after.append(_recall_at_1(standard[held] @ weights))
    gain = float(np.mean(after) - np.mean(before))
    metrics = {
        "ranker_rerank_recall_at_1_before": round(float(np.mean(before)), 4),
        "ranker_rerank_recall_at_1_after": round(float(np.mean(after)), 4),
    }
    progress(
        f"ranker re-ranker on held-out halves: recall@1 {np.mean(before):.4f} -> "
        f"{np.mean(after):.4f}"
    )
    if gain <= 0:
        return None, {**metrics, "ranker_rerank": False}
    weights = _fit(standard, seed)
    reranker = Reranker(idf, unseen, mean.tolist(), scale.tolist(), weights.tolist())
    return reranker, {**metrics, "ranker_rerank": True}


def _fit(standard: np.ndarray, seed: int) -> np.ndarray:
    """Weights of a linear score whose softmax over each row's candidates puts column 0
    (the true reply) first, with a little L2 so correlated features stay bounded."""
    torch.manual_seed(seed)
    inputs = torch.tensor(standard, dtype=torch.float32)
    weights = torch.zeros(inputs.shape[2], requires_grad=True)
    target = torch.zeros(len(inputs), dtype=torch.long)
    optimiser = torch.optim.LBFGS([weights], max_iter=300, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(inputs @ weights, target)
        value = value + L2 * (weights**2).sum()
        value.backward()
        return value

    optimiser.step(loss)
    return weights.detach().numpy().astype(np.float32)


def _recall_at_1(scores: np.ndarray) -> float:
    """Share of rows whose column 0 scores above every other (a tie counts as a miss)."""
    return float((scores[:, 1:] < scores[:, :1]).all(axis=1).mean())


def reply_idf(replies: Iterable[str]) -> tuple[dict[str, float], float]:
    """IDF of each word over the replies (each reply counted once), and the IDF a word
    never seen gets."""
    counts: dict[str, int] = {}
    total = 0
    for reply in replies:
        total += 1
        for word in words(reply):
            counts[word] = counts.get(word, 0) + 1
    idf = {word: round(math.log((total + 1) / (n + 1)), 4) for word, n in counts.items()}
    return idf, round(math.log(total + 1), 4)
