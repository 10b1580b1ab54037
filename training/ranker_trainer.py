"""Trains the response ranker into a model directory: pairs from dialogues, a fine-tuned
bi-encoder, its int8 ONNX export, and the candidate pool embedded with that export.

The served path (ONNX int8) also embeds the pool and the validation data, so the
validation figures and the chosen threshold describe exactly what the bot will run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from retrieval.model_dir import RankerInfo
from retrieval.ranker import (
    CANDIDATES_FILE,
    EMBEDDINGS_FILE,
    ENCODER_DIR,
    ONNX_DIR,
    Candidate,
)
from retrieval.ranker_encoder import RankerEncoder
from retrieval.ranker_text import DEFAULT_CONTEXT_TURNS, reply_key
from training.dialogue_pairs import ReplyPair, extract_pairs, split_by_dialogue
from training.ranker_eval import selection_score, selection_task, true_reply_ranks
from training.ranker_finetune import FinetuneSettings, finetune_ranker, idle_cores
from training.reply_pool import PoolSettings, build_pool, reusable_replies, template_candidates
from training.schema import Dialogue

Progress = Callable[[str], None]
NEVER = 1.0
"""min_score that turns off answering from the open pool (cosine never exceeds it)."""


@dataclass(frozen=True)
class RankerSettings:
    context_turns: int = DEFAULT_CONTEXT_TURNS
    finetune: FinetuneSettings = field(default_factory=FinetuneSettings)
    pool: PoolSettings = field(default_factory=PoolSettings)
    validation_fraction: float = 0.05
    min_validation_dialogues: int = 50
    """Fewer dialogues than this are all used for training, with no validation figures."""
    max_validation_pairs: int = 1000
    answer_precision: float = 0.9
    """Share of open-pool answers that must be the agent's reply on validation data."""


def ranker_settings(seed: int) -> RankerSettings:
    """The defaults, seeded with the project's one training seed."""
    return RankerSettings(finetune=FinetuneSettings(seed=seed))


@dataclass
class TrainedRanker:
    info: RankerInfo
    files: list[str]
    metrics: dict


def train_ranker(
    dialogues: list[Dialogue],
    responses: dict[str, list[dict]],
    stage: Path,
    settings: RankerSettings,
    progress: Progress,
) -> TrainedRanker | None:
    """Write the ranker under `stage`; None when the dialogues hold no agent reply."""
    started = time.monotonic()
    pairs = extract_pairs(dialogues, settings.context_turns)
    if not pairs:
        return None
    train, validation = _split(pairs, settings)
    result = finetune_ranker(train, settings.finetune, progress)
    result.model.save(str(stage / ENCODER_DIR))
    encoder = _export(stage, settings, progress)
    history = reusable_replies(dialogues, settings.pool)
    candidates, vectors = build_pool(
        template_candidates(responses), history, encoder.encode_replies, settings.pool
    )
    files = [*_folder_files(stage, ENCODER_DIR), *_folder_files(stage, ONNX_DIR)]
    files += _save_pool(stage, candidates, vectors)
    metrics = {
        "ranker_pairs": len(train),
        "ranker_steps": result.steps,
        "ranker_pairs_seen": result.pairs_seen,
        "ranker_stopped_early": result.stopped_early,
        "ranker_finetune_seconds": round(result.seconds, 1),
        "ranker_templates": sum(c.kind == "template" for c in candidates),
        "ranker_history_replies": sum(c.kind == "history" for c in candidates),
        "ranker_history_before_merge": len(history),
    }
    min_score = NEVER
    if validation:
        min_score, checks = _validate(encoder, validation, candidates, vectors, settings)
        metrics.update(checks)
    metrics["ranker_seconds"] = round(time.monotonic() - started, 1)
    info = RankerInfo(
        encoder=ENCODER_DIR,
        onnx=ONNX_DIR,
        candidates=CANDIDATES_FILE,
        embeddings=EMBEDDINGS_FILE,
        count=len(candidates),
        context_turns=settings.context_turns,
        max_context_tokens=settings.finetune.max_context_tokens,
        max_reply_tokens=settings.finetune.max_reply_tokens,
        min_score=round(min_score, 4),
    )
    return TrainedRanker(info, files, metrics)


def _split(
    pairs: list[ReplyPair], settings: RankerSettings
) -> tuple[list[ReplyPair], list[ReplyPair]]:
    """Held-out dialogues for validation figures and the threshold; none for small data."""
    if len({p.dialogue for p in pairs}) < settings.min_validation_dialogues:
        return pairs, []
    fraction, seed = settings.validation_fraction, settings.finetune.seed
    train, validation = split_by_dialogue(pairs, fraction, seed)
    step = max(1, len(validation) // settings.max_validation_pairs)
    return train, validation[::step][: settings.max_validation_pairs]


def _export(stage: Path, settings: RankerSettings, progress: Progress) -> RankerEncoder:
    from retrieval.onnx_encoder import export_onnx

    progress("exporting the response ranker to ONNX (int8)")
    export_onnx(stage / ENCODER_DIR, stage / ONNX_DIR, quantize=True)
    tuning = settings.finetune
    return RankerEncoder(
        stage / ONNX_DIR,
        "onnx",
        tuning.max_context_tokens,
        tuning.max_reply_tokens,
        threads=tuning.threads or idle_cores(),
    )


def _folder_files(stage: Path, folder: str) -> list[str]:
    return [str(p.relative_to(stage)) for p in sorted((stage / folder).rglob("*")) if p.is_file()]


def _save_pool(stage: Path, candidates: list[Candidate], vectors: np.ndarray) -> list[str]:
    rows = [c.to_json() for c in candidates]
    (stage / CANDIDATES_FILE).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    save_file({"embeddings": matrix}, str(stage / EMBEDDINGS_FILE))
    return [CANDIDATES_FILE, EMBEDDINGS_FILE]


def _validate(encoder, validation, candidates, vectors, settings) -> tuple[float, dict]:
    """1-of-100 on held-out dialogues, and the open-pool threshold: the lowest score at
    which answers chosen among all candidates are the agent's own reply (same words, or a
    merged near-duplicate of it) at least `answer_precision` of the time."""
    contexts = encoder.encode_contexts([p.context for p in validation])
    task = selection_task(validation, 100, settings.finetune.seed)
    replies = encoder.encode_replies(task.replies)
    score = selection_score(true_reply_ranks(task, contexts, replies))
    truth = replies[[task.replies.index(p.reply) for p in validation]]
    best = np.argmax(contexts @ vectors.T, axis=1)
    best_scores = np.einsum("ij,ij->i", contexts, vectors[best])
    correct = np.array(
        [
            reply_key(candidates[b].text) == reply_key(p.reply)
            or float(vectors[b] @ t) >= settings.pool.merge_similarity
            for b, p, t in zip(best, validation, truth, strict=True)
        ]
    )
    min_score, answered = choose_min_score(best_scores, correct, settings.answer_precision)
    return min_score, {
        "ranker_validation_pairs": len(validation),
        "ranker_validation_recall_at_1_of_100": round(score.recall_at_1, 4),
        "ranker_validation_mrr": round(score.mrr, 4),
        "ranker_open_pool_answered": round(answered, 4),
    }


def choose_min_score(
    scores: np.ndarray, correct: np.ndarray, precision: float, min_answered: int = 20
) -> tuple[float, float]:
    """(threshold, share answered): the lowest top score whose answers at or above it meet
    `precision`, over at least `min_answered` answers; NEVER when no threshold does."""
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(correct[order])
    answered = np.arange(1, len(order) + 1)
    good = np.flatnonzero((hits / answered >= precision) & (answered >= min_answered))
    if good.size == 0:
        return NEVER, 0.0
    last = good[-1]
    return float(scores[order[last]]), float(answered[last] / len(scores))
