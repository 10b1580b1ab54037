"""Trains the response ranker into a model directory: pairs from dialogues, a fine-tuned
bi-encoder, its int8 ONNX export, and the candidate pool embedded with that export.

The served path (ONNX int8) also embeds the pool and the validation data, so the
validation figures and the chosen threshold describe exactly what the bot will run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from retrieval.model_dir import RankerInfo
from retrieval.ranker import (
    CANDIDATES_FILE,
    EMBEDDINGS_FILE,
    ENCODER_DIR,
    NGRAM_VOCAB_FILE,
    NGRAMS_FILE,
    ONNX_DIR,
    RERANKER_FILE,
    Candidate,
    RankerVectors,
)
from retrieval.ranker_encoder import RankerEncoder
from retrieval.ranker_ngrams import NgramEncoder
from retrieval.ranker_rerank import Reranker
from retrieval.ranker_text import DEFAULT_CONTEXT_TURNS, last_turns, reply_key
from training.cpu_load import idle_cores
from training.dialogue_pairs import ReplyPair, extract_pairs, split_by_dialogue
from training.precision import Precision
from training.ranker_eval import (
    SelectionTask,
    selection_score,
    selection_task,
    true_reply_ranks,
)
from training.ranker_finetune import FinetuneSettings, finetune_ranker
from training.ranker_ngram_trainer import NgramSettings, TrainedNgrams, train_ngram_encoder
from training.ranker_rerank_trainer import fit_reranker
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
    max_validation_pairs: int = 5000
    """The n-gram weight is chosen on these: on SGD, 1,000 pairs could not tell weights 1.0
    and 3.0 apart (0.731 vs 0.732) while 5,577 put 3.0 0.9 points below 1.5."""
    answer_precision: float = 0.9
    """Share of open-pool answers that must be the agent's reply on validation data."""
    ngrams: NgramSettings = field(default_factory=NgramSettings)


def ranker_settings(
    seed: int,
    minutes: float | None = None,
    ngram_turns: Sequence[int] | None = None,
    precision: Precision = "auto",
) -> RankerSettings:
    """The defaults, seeded with the project's one training seed; `minutes` is the
    fine-tuning time budget (config `training.ranker_minutes`), `ngram_turns` the n-gram
    members' context windows (`training.ranker_ngram_turns`), `precision` the number
    format of fine-tuning (`training.precision`)."""
    finetune = FinetuneSettings(seed=seed, precision=precision)
    if minutes is not None:
        finetune = replace(finetune, max_seconds=minutes * 60)
    ngrams = NgramSettings(seed=seed)
    if ngram_turns is not None:
        ngrams = replace(ngrams, member_turns=tuple(ngram_turns))
    return RankerSettings(finetune=finetune, ngrams=ngrams)


@dataclass
class TrainedRanker:
    info: RankerInfo
    files: list[str]
    metrics: dict
    ngrams: NgramEncoder | None = None
    """The n-gram encoder as trained, even when its weight came out 0 (benchmarks)."""


def train_ranker(
    dialogues: list[Dialogue],
    responses: dict[str, list[dict]],
    stage: Path,
    settings: RankerSettings,
    progress: Progress,
) -> TrainedRanker | None:
    """Write the ranker under `stage`; None when the dialogues hold no agent reply."""
    started = time.monotonic()
    pairs = extract_pairs(dialogues, max(settings.context_turns, *settings.ngrams.member_turns))
    if not pairs:
        return None
    train, validation = _split(pairs, settings)
    ngrams = train_ngram_encoder(train, settings.ngrams, progress) if validation else None
    window = max(settings.ngrams.member_turns) if ngrams else 0
    window = max(window, settings.context_turns)
    result = finetune_ranker(transformer_pairs(train, settings), settings.finetune, progress)
    result.model.save(str(stage / ENCODER_DIR))
    transformer = _export(stage, settings, progress)
    weight, fusion, task, fused = 0.0, {}, None, None
    if ngrams is not None:
        task = weight_task(validation, settings)
        weight, fusion, fused = choose_ngram_weight(transformer, ngrams.encoder, task, settings)
    transformer_turns = settings.context_turns if window > settings.context_turns else None
    vectors = RankerVectors(
        transformer, ngrams.encoder if ngrams else None, weight, transformer_turns
    )
    reranker, rerank_metrics = None, {}
    if task is not None:
        reranker, rerank_metrics = train_reranker(task, fused, train, settings, progress)
    history = reusable_replies(dialogues, settings.pool)
    candidates, embeddings = build_pool(
        template_candidates(responses), history, vectors.encode_replies, settings.pool
    )
    files = [*_folder_files(stage, ENCODER_DIR), *_folder_files(stage, ONNX_DIR)]
    files += _save_pool(stage, candidates, embeddings)
    if vectors.ngrams is not None:
        files += _save_ngrams(stage, ngrams)
    if reranker is not None:
        (stage / RERANKER_FILE).write_text(json.dumps(reranker.to_json()), encoding="utf-8")
        files.append(RERANKER_FILE)
    metrics = {
        "ranker_pairs": len(train),
        "ranker_steps": result.steps,
        "ranker_pairs_seen": result.pairs_seen,
        "ranker_budget_shortened": result.stopped_early,
        "ranker_finetune_seconds": round(result.seconds, 1),
        "ranker_precision": result.precision,
        "ranker_ngram_seconds": round(ngrams.seconds, 1) if ngrams else 0.0,
        **fusion,
        **rerank_metrics,
        "ranker_templates": sum(c.kind == "template" for c in candidates),
        "ranker_history_replies": sum(c.kind == "history" for c in candidates),
        "ranker_history_before_merge": len(history),
    }
    min_score = NEVER
    if validation:
        min_score, checks = _validate(vectors, validation, candidates, embeddings, settings)
        metrics.update(checks)
    metrics["ranker_seconds"] = round(time.monotonic() - started, 1)
    info = RankerInfo(
        encoder=ENCODER_DIR,
        onnx=ONNX_DIR,
        candidates=CANDIDATES_FILE,
        embeddings=EMBEDDINGS_FILE,
        count=len(candidates),
        context_turns=window,
        transformer_turns=transformer_turns,
        max_context_tokens=settings.finetune.max_context_tokens,
        max_reply_tokens=settings.finetune.max_reply_tokens,
        min_score=round(min_score, 4),
        ngrams=NGRAMS_FILE if vectors.ngrams is not None else None,
        ngram_vocab=NGRAM_VOCAB_FILE if vectors.ngrams is not None else None,
        ngram_weight=vectors.weight,
        reranker=RERANKER_FILE if reranker is not None else None,
    )
    return TrainedRanker(info, files, metrics, ngrams.encoder if ngrams else None)


NGRAM_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def choose_ngram_weight(
    transformer: RankerEncoder, ngrams: NgramEncoder, task: SelectionTask, settings
) -> tuple[float, dict, np.ndarray]:
    """The n-gram weight with the best recall@1 on `task` (`weight_task`'s validation
    draws; 0 drops it), and the fused scores of its candidates at that weight: what the
    served `RankerVectors` give them, without encoding the validation pairs again."""
    validation = task.pairs
    recent = [p.context for p in transformer_pairs(validation, settings)]
    dense = _candidate_scores(
        task, transformer.encode_contexts(recent), transformer.encode_replies(task.replies)
    )
    contexts = [p.context for p in validation]
    sparse = _candidate_scores(
        task, ngrams.encode_contexts(contexts), ngrams.encode_replies(task.replies)
    )
    recall = {w: float(((dense + w * sparse).argmax(axis=1) == 0).mean()) for w in NGRAM_WEIGHTS}
    best = max(NGRAM_WEIGHTS, key=lambda w: (recall[w], -w))
    metrics = {
        "ranker_ngram_weight": best,
        "ranker_weight_choice_recall_at_1": {str(w): round(r, 4) for w, r in recall.items()},
    }
    return best, metrics, dense + best * sparse


def train_reranker(
    task: SelectionTask,
    fused: np.ndarray,
    train: list[ReplyPair],
    settings: RankerSettings,
    progress: Progress,
) -> tuple[Reranker | None, dict]:
    """The second stage, fitted on the draws the n-gram weight was chosen on, over their
    fused scores (`choose_ngram_weight`'s); None when it does not pay there."""
    replies = [p.reply for p in train]
    return fit_reranker(task, fused, replies, settings.finetune.seed, progress)


def weight_task(validation: list[ReplyPair], settings: RankerSettings) -> SelectionTask:
    """The 1-of-100 draws the n-gram weight and the re-ranker are chosen on (seeded apart
    from `_validate`'s, which report the final figures)."""
    return selection_task(validation, 100, settings.finetune.seed + 1)


def transformer_pairs(pairs: list[ReplyPair], settings: RankerSettings) -> list[ReplyPair]:
    """The pairs as the transformer reads them: contexts cut to `settings.context_turns`
    (the n-gram encoder's members may read longer windows)."""
    turns = settings.context_turns
    return [replace(p, context=last_turns(p.context, turns)) for p in pairs]


def _candidate_scores(task, contexts: np.ndarray, replies: np.ndarray) -> np.ndarray:
    return np.einsum("nkd,nd->nk", replies[task.candidates], contexts)


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


def _save_ngrams(stage: Path, ngrams: TrainedNgrams) -> list[str]:
    save_file(ngrams.tensors, str(stage / NGRAMS_FILE))
    text = json.dumps(ngrams.vocab, ensure_ascii=False)
    (stage / NGRAM_VOCAB_FILE).write_text(text, encoding="utf-8")
    return [NGRAMS_FILE, NGRAM_VOCAB_FILE]


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
            or _cosine(vectors[b], t) >= settings.pool.merge_similarity
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


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


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
