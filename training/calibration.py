"""Confidence calibration and the out-of-scope threshold, fitted on held-out data only."""

from __future__ import annotations

import numpy as np
import torch


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """Temperature scaling (Guo et al. 2017): one scalar minimising held-out NLL."""
    log_t = torch.zeros(1, requires_grad=True)
    x = torch.from_numpy(logits.astype(np.float32))
    y = torch.from_numpy(targets.astype(np.int64))
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(np.clip(log_t.exp().item(), 0.05, 20.0))


def expected_calibration_error(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> float:
    """Weighted mean gap between confidence and accuracy over equal-width confidence bins."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def choose_oos_threshold(
    in_scope_scores: np.ndarray,
    in_scope_correct: np.ndarray,
    oos_scores: np.ndarray,
    floor: float,
    keep: float = 0.97,
) -> float:
    """The score (confidence or support) below which a message is out of scope.

    With out-of-scope examples: the threshold that maximises the mean of in-scope
    accuracy-after-rejection and out-of-scope recall. Without: keep `keep` of the
    correctly classified held-out messages. Never below `floor`.
    """
    if len(oos_scores) >= 5 and len(in_scope_scores):
        candidates = np.unique(np.concatenate([in_scope_scores, oos_scores]))
        scores = [
            ((in_scope_correct & (in_scope_scores >= t)).mean() + (oos_scores < t).mean()) / 2
            for t in candidates
        ]
        return float(max(floor, candidates[int(np.argmax(scores))]))
    kept = in_scope_scores[in_scope_correct]
    if len(kept) == 0:
        return floor
    return float(max(floor, np.quantile(kept, 1 - keep)))
