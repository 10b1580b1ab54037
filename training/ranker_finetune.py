"""Fine-tunes the packaged encoder into a context -> reply bi-encoder.

The objective is sentence-transformers' MultipleNegativesRankingLoss (softmax over scaled
cosine similarities, every other reply in the batch a negative), written out here for two
reasons: the library's trainer needs `datasets`, which the project does not ship, and on a
CPU the time goes into padding unless each side is length-bucketed, which this loop does.
Batches are random by default. `hard_negatives="dialogue"` keeps a dialogue's turns
together instead (`dialogue_batches`), so a context's hardest negatives, the same agent's
other replies in that conversation, share its batch. It is off by default because it
lost: on the held-out slice of SGD `train` (5,577 pairs, 1-of-100) the transformer scored
57.5 % with dialogue batches against 60.5 % with random ones, and 72.3 % against 73.0 %
fused with the n-gram encoder (docs/benchmarks.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from retrieval.ranker_encoder import make_tokenizer, tokenize
from retrieval.ranker_text import reply_key
from training.cpu_load import idle_cores
from training.dialogue_pairs import ReplyPair, dialogue_batches, random_batches
from training.precision import Precision, autocast, resolve_precision

Progress = Callable[[str], None]
CHUNK = 16
"""Texts per forward pass inside a batch: sorted by length, so little padding is encoded."""


@dataclass(frozen=True)
class FinetuneSettings:
    seed: int = 42
    batch_size: int = 64
    max_pairs: int = 48_000
    """Training pairs seen at most; bigger data is subsampled by whole dialogues. On SGD
    the time budget binds first (docs/benchmarks.md): 48,000 leaves it room on a machine
    with fast steps, where 24,000 stopped the run with minutes of the budget unused."""
    min_steps: int = 40
    """Small data is repeated until this many steps, so a toy bot still learns its replies."""
    max_passes: int = 4
    """...but at most this many passes over it: a bot of 25 pairs trains in seconds, not in
    40 steps of the same batch (issue 31, time in proportion to data)."""
    learning_rate: float = 1e-4
    warmup_fraction: float = 0.1
    scale: float = 20.0
    max_context_tokens: int = 128
    max_reply_tokens: int = 64
    frozen_layers: int = 0
    """Bottom transformer layers kept frozen (the embedding table always is)."""
    hard_negatives: str | None = None
    """None: random batches; "dialogue": batches of whole dialogues (see module doc)."""
    max_seconds: float | None = 20 * 60
    """Time budget, an upper bound and not a target: after a few steps the run is
    shortened (learning-rate schedule included) to fit; None trains every planned step,
    reproducibly on any machine. Small data never fills it (`max_passes`)."""
    threads: int | None = None
    """PyTorch threads; None: the cores other processes leave idle (see `idle_cores`)."""
    precision: Precision = "auto"
    """Number format of the forward passes (training/precision.py)."""


@dataclass
class FinetuneResult:
    model: object
    """The fine-tuned SentenceTransformer."""
    steps: int
    pairs_seen: int
    seconds: float
    stopped_early: bool
    precision: str
    """fp32 or bf16: what `settings.precision` resolved to on this machine."""


def plan_batches(pairs: list[ReplyPair], settings: FinetuneSettings) -> list[list[ReplyPair]]:
    """The batches of the whole run: one pass over a subsample of big data, or repeated
    passes over small data (reshuffled each time) until `min_steps` or `max_passes`."""
    if not pairs:
        return []
    one_pass = math.ceil(len(pairs) / settings.batch_size)
    repeated = min(settings.min_steps, settings.max_passes * one_pass)
    target = max(min(one_pass, settings.max_pairs // settings.batch_size), repeated)
    make = dialogue_batches if settings.hard_negatives == "dialogue" else random_batches
    batches: list[list[ReplyPair]] = []
    while len(batches) < target:
        batches += make(pairs, settings.batch_size, settings.seed + len(batches))
    return batches[:target]


def finetune_ranker(
    pairs: list[ReplyPair], settings: FinetuneSettings, progress: Progress
) -> FinetuneResult:
    from sentence_transformers import SentenceTransformer

    from retrieval.encoder import base_model_path, quiet_model_logs
    from training.finetune import seed_everything

    quiet_model_logs()
    seed_everything(settings.seed)
    model = SentenceTransformer(str(base_model_path()), device="cpu", local_files_only=True)
    transformer = model[0].auto_model
    _freeze(transformer, settings.frozen_layers)
    batches = plan_batches(pairs, settings)
    threads = settings.threads or idle_cores()
    precision = resolve_precision(settings.precision)
    progress(
        f"training the response ranker: {len(pairs)} pairs, {len(batches)} steps "
        f"of {settings.batch_size}, {threads} thread(s), {precision}"
    )
    tokenizers = ranker_tokenizers(settings)
    started = time.monotonic()
    with torch_threads(threads):
        steps = _train(transformer, tokenizers, batches, settings, precision, progress, started)
    model.eval()
    seen = sum(len(b) for b in batches[:steps])
    seconds = time.monotonic() - started
    return FinetuneResult(model, steps, seen, seconds, steps < len(batches), precision)


def ranker_tokenizers(settings: FinetuneSettings) -> tuple:
    """(contexts, replies) tokenizers of the packaged encoder: a context keeps its latest
    tokens (cut from the left), a reply its first."""
    from retrieval.encoder import base_model_path

    return (
        make_tokenizer(base_model_path(), settings.max_context_tokens, "left"),
        make_tokenizer(base_model_path(), settings.max_reply_tokens, "right"),
    )


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Set PyTorch's thread count for a block and restore it after (it is process-wide)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _freeze(transformer: torch.nn.Module, layers: int) -> None:
    for parameter in transformer.embeddings.parameters():
        parameter.requires_grad = False
    for layer in transformer.encoder.layer[:layers]:
        for parameter in layer.parameters():
            parameter.requires_grad = False


def _train(transformer, tokenizers, batches, settings, precision, progress, started) -> int:
    """Run the batches; returns how many ran (fewer when the time budget cut the plan)."""
    parameters = [p for p in transformer.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=0.01)
    plan = {"total": len(batches)}
    warmup = max(1, math.ceil(len(batches) * settings.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _learning_rate_factor(step, warmup, plan["total"])
    )
    transformer.train()
    running = 0.0
    for step, batch in enumerate(batches, start=1):
        loss = batch_loss(transformer, tokenizers, batch, settings.scale, precision)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
        elapsed = time.monotonic() - started
        _fit_budget(plan, len(batches), step, elapsed, settings, progress)
        if step % max(1, plan["total"] // 20) == 0 or step == plan["total"]:
            progress(
                f"  ranker: step {step}/{plan['total']}, loss {running:.3f}, "
                f"elapsed {elapsed:.0f}s, eta {elapsed / step * (plan['total'] - step):.0f}s"
            )
        if step >= plan["total"]:
            return step
    return len(batches)


def _learning_rate_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then linear decay to zero at `total`."""
    return min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup)))


BUDGET_CHECKS = (5, 20, 50)
"""Steps after which the plan is fitted to the time budget at the rate so far."""


def affordable_steps(planned: int, step: int, elapsed: float, max_seconds: float) -> int:
    """Steps that fit `max_seconds` at the rate so far, between `step` and `planned`. A
    later check may give back steps an earlier one took away, because the first steps can
    run slower than the rest: on SGD the check at step 5 once saw 2.7 s per step and cut a
    750-step plan to 445, and the run then went at about 2.1 s per step, which fits 570."""
    return min(planned, max(step, int(max_seconds / (elapsed / step))))


def _fit_budget(
    plan: dict, planned: int, step: int, elapsed: float, settings, progress: Progress
) -> None:
    if settings.max_seconds is None or step not in BUDGET_CHECKS:
        return
    affordable = affordable_steps(planned, step, elapsed, settings.max_seconds)
    if affordable != plan["total"]:
        progress(
            f"  ranker: {elapsed / step:.1f}s per step; {affordable} of {planned} "
            f"steps fit the {settings.max_seconds / 60:.0f}-minute budget"
        )
        plan["total"] = affordable


def batch_loss(
    transformer, tokenizers, batch: list[ReplyPair], scale: float, precision: str = "fp32"
) -> torch.Tensor:
    """Cross-entropy of each context over the batch's replies; a reply equal to the true
    one (same words) is masked rather than counted as a negative. Only the encoder runs
    under `precision`: the similarities stay float32, as bfloat16 steps by 0.125 between
    16 and 32, coarser than the scaled cosines the softmax has to tell apart."""
    with autocast(precision):
        contexts = embed(transformer, tokenizers[0], [p.context for p in batch])
        replies = embed(transformer, tokenizers[1], [p.reply for p in batch])
    contexts, replies = contexts.float(), replies.float()
    logits = scale * contexts @ replies.T
    keys = [reply_key(p.reply) for p in batch]
    duplicate = torch.tensor([[a == b for b in keys] for a in keys])
    duplicate.fill_diagonal_(False)
    logits = logits.masked_fill(duplicate, float("-inf"))
    return torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))


def embed(transformer, tokenizer, texts: list[str]) -> torch.Tensor:
    """Mean-pooled, L2-normalised vectors with gradients, encoded in length-sorted chunks."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    pieces = []
    for start in range(0, len(order), CHUNK):
        rows = order[start : start + CHUNK]
        encoded = tokenize(tokenizer, [texts[i] for i in rows])
        feeds = {k: torch.from_numpy(v) for k, v in encoded.items()}
        hidden = transformer(**feeds).last_hidden_state
        mask = feeds["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pieces.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
    pooled = torch.cat(pieces)[torch.argsort(torch.tensor(order))]
    return torch.nn.functional.normalize(pooled, dim=-1)
