"""Trains the ranker's bag-of-n-grams dual encoder (retrieval/ranker_ngrams.py) on every
(context, reply) pair, with the same in-batch-negatives objective as the transformer.

Sparse embedding bags make an epoch over 100,000 pairs take about a minute on one core,
which is why this model, unlike the transformer, sees all the data.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch

from retrieval.ranker_ngrams import NgramEncoder, context_features, member_prefix, reply_features
from training.cpu_load import idle_cores
from training.dialogue_pairs import ReplyPair
from training.ranker_finetune import torch_threads

Progress = Callable[[str], None]


@dataclass(frozen=True)
class NgramSettings:
    """Defaults chosen on the held-out slice of SGD `train` (docs/benchmarks.md): 256
    dimensions and features seen 4 times beat 128 and 2, more epochs overfit, two members
    beat one, and two more reading six turns beat none."""

    seed: int = 42
    dimension: int = 256
    min_count: int = 4
    """A feature must occur in this many training pairs to get an embedding."""
    member_turns: tuple[int, ...] = (3, 3, 6, 6)
    """One model per entry, each from its own seed and reading that many of the context's
    last turns; the encoder averages their cosines."""
    epochs: int = 3
    batch_size: int = 256
    learning_rate: float = 1e-3
    scale: float = 20.0


@dataclass
class TrainedNgrams:
    encoder: NgramEncoder
    vocab: dict[str, list]
    tensors: dict[str, np.ndarray]
    seconds: float


def vocabulary(featured: list[list[str]], min_count: int) -> list[str]:
    """Features in at least `min_count` items, commonest first (ties by name: reproducible)."""
    counts = Counter(f for features in featured for f in set(features))
    kept = [f for f, n in counts.items() if n >= min_count]
    return sorted(kept, key=lambda f: (-counts[f], f))


class _Side(torch.nn.Module):
    def __init__(self, rows: int, dimension: int):
        super().__init__()
        self.table = torch.nn.EmbeddingBag(rows, dimension, mode="mean", sparse=True)
        torch.nn.init.normal_(self.table.weight, std=0.1)
        self.w1 = torch.nn.Linear(dimension, dimension)
        self.w2 = torch.nn.Linear(dimension, dimension)

    def forward(self, ids: list[list[int]]) -> torch.Tensor:
        flat = torch.tensor([i for row in ids for i in row])
        offsets = torch.tensor([0, *np.cumsum([len(row) for row in ids])[:-1].tolist()])
        hidden = torch.tanh(self.w1(self.table(flat, offsets)))
        return torch.nn.functional.normalize(self.w2(hidden), dim=-1)

    def export(self, side: str) -> dict[str, np.ndarray]:
        tensors = {
            f"{side}_w1": self.w1.weight,
            f"{side}_b1": self.w1.bias,
            f"{side}_w2": self.w2.weight,
            f"{side}_b2": self.w2.bias,
        }
        out = {k: v.detach().numpy().astype(np.float32) for k, v in tensors.items()}
        out[f"{side}_table"] = self.table.weight.detach().numpy().astype(np.float16)
        return out


def train_ngram_encoder(
    pairs: list[ReplyPair], settings: NgramSettings, progress: Progress
) -> TrainedNgrams:
    """Pairs' contexts must hold at least the longest member window's turns."""
    started = time.monotonic()
    longest = max(settings.member_turns)
    contexts = {
        turns: [context_features(p.context, turns) for p in pairs]
        for turns in set(settings.member_turns)
    }
    replies = [reply_features(p.reply) for p in pairs]
    vocab: dict[str, list] = {
        "context": vocabulary(contexts[longest], settings.min_count),
        "reply": vocabulary(replies, settings.min_count),
        "member_turns": list(settings.member_turns),
    }
    reply_ids = _ids(replies, vocab["reply"])
    progress(
        f"training the ranker's n-gram encoder: {len(pairs)} pairs, "
        f"{len(vocab['context'])} + {len(vocab['reply'])} features, "
        f"{len(settings.member_turns)} member(s) reading {settings.member_turns} turns"
    )
    tensors: dict[str, np.ndarray] = {}
    with torch_threads(idle_cores()):
        for member, turns in enumerate(settings.member_turns):
            ids = (_ids(contexts[turns], vocab["context"]), reply_ids)
            seeded = replace(settings, seed=settings.seed + MEMBER_SEED_STEP * member)
            trained = _train_member(vocab, ids, seeded, progress)
            tensors.update({member_prefix(member) + k: v for k, v in trained.items()})
    encoder = NgramEncoder(vocab, tensors)
    return TrainedNgrams(encoder, vocab, tensors, time.monotonic() - started)


MEMBER_SEED_STEP = 1000
"""Member k trains with seed + k * this: its own initialisation and batch order."""


def _train_member(vocab, ids, settings: NgramSettings, progress: Progress) -> dict:
    torch.manual_seed(settings.seed)
    sides = (
        _Side(len(vocab["context"]) + 1, settings.dimension),
        _Side(len(vocab["reply"]) + 1, settings.dimension),
    )
    _train(sides, ids[0], ids[1], settings, progress)
    return {**sides[0].export("context"), **sides[1].export("reply")}


def _ids(featured: list[list[str]], names: list[str]) -> list[list[int]]:
    rows = {f: i + 1 for i, f in enumerate(names)}
    return [[rows[f] for f in features if f in rows] or [0] for features in featured]


def _train(sides, context_ids, reply_ids, settings: NgramSettings, progress: Progress) -> None:
    tables = [p for side in sides for p in side.table.parameters()]
    dense = [p for side in sides for n, p in side.named_parameters() if not n.startswith("table")]
    sparse_optimizer = torch.optim.SparseAdam(tables, lr=settings.learning_rate)
    dense_optimizer = torch.optim.Adam(dense, lr=settings.learning_rate)
    order = list(range(len(context_ids)))
    for epoch in range(settings.epochs):
        random.Random(settings.seed + epoch).shuffle(order)
        total, steps = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            if len(batch) < 2:
                continue
            contexts = sides[0]([context_ids[i] for i in batch])
            replies = sides[1]([reply_ids[i] for i in batch])
            logits = settings.scale * contexts @ replies.T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            sparse_optimizer.zero_grad()
            dense_optimizer.zero_grad()
            loss.backward()
            sparse_optimizer.step()
            dense_optimizer.step()
            total, steps = total + loss.item(), steps + 1
        mean = total / max(steps, 1)
        progress(f"  n-grams: epoch {epoch + 1}/{settings.epochs}, loss {mean:.3f}")
