"""The intent head, and how many of the encoder's last layers it reads.

The sentence vector is the last layer, pooled. Pooled lower layers keep more of a
message's wording: on CLINC150's `val` a head over the last two layers was 0.5 points more
accurate than one over the sentence vector alone (fused with the n-gram model), while on
a held-out slice of BANKING77's `train` it was 0.7 points less. So training fits a head
per candidate count and keeps the one held-out data prefers (docs/benchmarks.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from retrieval.intent_classifier import last_layers
from supportbot.config import FEATURE_LAYER_CHOICES, TrainingConfig
from training.lexical_trainer import choose_share
from training.ranker_finetune import torch_threads

Progress = Callable[[str], None]
ONE_THREAD_BELOW = 5000
"""Fewer examples than this train the head on one thread: its steps are tiny matrix
products, where a second OpenMP thread only adds a barrier per operator (and on a busy
2-core machine a descheduled thread stalls the other, training/cpu_load.py)."""


@dataclass
class HeadChoice:
    layers: int
    weight: np.ndarray
    bias: np.ndarray
    lexical_share: float
    metrics: dict = field(default_factory=dict)


def layer_choices(config: TrainingConfig, has_holdout: bool) -> tuple[int, ...]:
    """The counts to compare: the configured one, or with "auto" every candidate when
    there is held-out data to choose with, else the sentence vector alone."""
    if config.feature_layers != "auto":
        return (config.feature_layers,)
    return FEATURE_LAYER_CHOICES if has_holdout else (1,)


def choose_head(
    train: tuple[np.ndarray, np.ndarray],
    holdout: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    choices: tuple[int, ...],
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> HeadChoice:
    """A head per layer count in `choices`; the best on held-out data, each fused with the
    n-gram model (`holdout`'s third part, its logits) at that head's best share. Ties go
    to fewer layers: the smaller head."""
    train_features, train_targets = train
    holdout_features, holdout_targets, holdout_lexical = holdout
    encoded = max(choices)
    candidates, accuracy = [], {}
    for layers in sorted(choices):
        columns = last_layers(train_features, encoded, layers)
        weight, bias = train_head(columns, train_targets, n_labels, config, progress)
        candidate = HeadChoice(layers, weight, bias, 0.0)
        if len(holdout_targets):
            held_out = last_layers(holdout_features, encoded, layers) @ weight.T + bias
            accuracy[layers] = _fused_accuracy(
                candidate, held_out, holdout_lexical, holdout_targets
            )
        candidates.append(candidate)
    if not accuracy:
        return candidates[0]
    best = max(candidates, key=lambda c: (accuracy[c.layers], -c.layers))
    best.metrics.update(
        feature_layers=best.layers,
        holdout_accuracy_by_feature_layers={str(k): round(v, 4) for k, v in accuracy.items()},
    )
    progress(
        f"  intent head: held-out accuracy by encoder layers read "
        f"{best.metrics['holdout_accuracy_by_feature_layers']}, chose {best.layers}"
        + (f", n-gram share {best.lexical_share}" if holdout_lexical is not None else "")
    )
    return best


def _fused_accuracy(
    candidate: HeadChoice,
    head_logits: np.ndarray,
    lexical_logits: np.ndarray | None,
    targets: np.ndarray,
) -> float:
    """Held-out accuracy at the n-gram share that suits this head; sets that share."""
    if lexical_logits is None:
        return float((head_logits.argmax(1) == targets).mean())
    share, by_share = choose_share(head_logits, lexical_logits, targets)
    candidate.lexical_share = share
    candidate.metrics.update(lexical_share=share, holdout_accuracy_by_lexical_share=by_share)
    return by_share[f"{share:.1f}"]


def train_head(
    vectors: np.ndarray,
    targets: np.ndarray,
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression with AdamW on mini-batches; returns (weight, bias) as numpy arrays."""
    threads = 1 if len(vectors) < ONE_THREAD_BELOW else torch.get_num_threads()
    with torch_threads(threads):
        return _fit_head(vectors, targets, n_labels, config, progress)


def _fit_head(
    vectors: np.ndarray,
    targets: np.ndarray,
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    head = torch.nn.Linear(vectors.shape[1], n_labels)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    x = torch.from_numpy(vectors)
    y = torch.from_numpy(targets.astype(np.int64))
    steps_per_epoch = max(1, -(-len(x) // config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    started = time.monotonic()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        epoch_loss = 0.0
        for batch in order.split(config.batch_size):
            loss = torch.nn.functional.cross_entropy(head(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(batch)
        if epoch == config.epochs - 1 or (epoch + 1) % max(1, config.epochs // 5) == 0:
            done = (epoch + 1) * steps_per_epoch
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total_steps - done)
            progress(
                f"  intent head: step {done}/{total_steps}, loss {epoch_loss / len(x):.4f}, "
                f"elapsed {elapsed:.1f}s, eta {eta:.1f}s"
            )
    return head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy()
