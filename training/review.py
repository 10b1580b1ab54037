"""`supportbot review`: the logged turns most worth a human look, spread across topics.

Each eligible turn is scored by how unsure the current model is about it (one minus the
margin between its two best intents, recomputed with the current model because the logged
confidence may come from an older one), raised by what the model did when it served the
turn (a fallback or retrieval answer, a clarifying question, low confidence, the classifier
and the knowledge base disagreeing), plus what the customer did (a thumbs-down, a handoff).
The best-scored turns form a pool that k-means splits into topics over the encoder's
vectors; picks go round-robin over the topics, best first, so one popular question cannot
fill the whole batch.

Only redacted text is read (the log stores nothing else); opted-out conversations,
moderated turns, button payloads and already labelled or queued turns are never picked.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from bot.store.learning_log import EXCLUDED_FLAGS, LearningLog
from retrieval.bot_model import BotModel
from supportbot.config import LearningConfig
from supportbot.turn_actions import NOT_FOR_TRAINING

MODEL_REASONS = {
    "fallback": 0.8,
    "disagreement": 0.6,
    "clarify": 0.5,
    "retrieval": 0.4,
    "low_confidence": 0.3,
}
"""What the model did: they raise a turn's uncertainty, and count for nothing once the
current model is sure about the turn (it may have learnt it since it was served)."""
CUSTOMER_REASONS = {"negative_feedback": 1.0, "handoff": 0.8}
"""What the customer did: worth a look whatever the model now thinks."""
REVIEWABLE_HANDOFF = "handoff"
POOL_FACTOR = 5
ENCODE_BATCH = 256


@dataclass
class Pick:
    turn_id: int
    conversation_id: str
    message: str
    intent: str | None
    """What the bot decided when the turn was served."""
    confidence: float | None
    reply: str | None
    predicted: str = ""
    """The current model's best intent for the message."""
    predicted_confidence: float = 0.0
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0
    cluster: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def pick_for_review(
    log: LearningLog,
    model: BotModel,
    size: int,
    config: LearningConfig | None = None,
    seed: int = 0,
    vector_cache: dict[str, np.ndarray] | None = None,
) -> list[Pick]:
    """Up to `size` turns, most useful first, spread over topics. Reads only."""
    config = config or LearningConfig()
    candidates = load_candidates(log, config)
    if not candidates or size <= 0:
        return []
    features = encode_texts(model, [c.message for c in candidates], vector_cache)
    score_with_model(model, candidates, features, config)
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].score)
    pool = order[: max(size * POOL_FACTOR, size)]
    vectors = model.classifier.sentence_vectors(features[pool])
    clusters = cluster_vectors(vectors, min(size, len(pool)), seed)
    for index, cluster in zip(pool, clusters, strict=True):
        candidates[index].cluster = int(cluster)
    return spread_over_clusters([candidates[i] for i in pool], size)


def load_candidates(log: LearningLog, config: LearningConfig) -> list[Pick]:
    """Eligible turns with their logged reasons; one turn per distinct text (the latest)."""
    negative = log.thumbs_down_turns()
    before_handoff = log.turns_before_handoff()
    by_text: dict[str, Pick] = {}
    for row in log.review_candidates():
        if not _reviewable(row):
            continue
        pick = Pick(
            row["turn_id"],
            row["conversation_id"],
            row["message"],
            row["intent"],
            row["confidence"],
            row["response"],
        )
        pick.reasons = _logged_reasons(row, config, row["turn_id"] in negative)
        if row["turn_id"] in before_handoff and "handoff" not in pick.reasons:
            pick.reasons.append("handoff")
        by_text[" ".join(row["message"].lower().split())] = pick
    return list(by_text.values())


def _reviewable(row: dict) -> bool:
    if row["message"].startswith("/"):
        return False
    if row["action"] in NOT_FOR_TRAINING and row["action"] != REVIEWABLE_HANDOFF:
        return False
    flags = json.loads(row["moderation"] or "{}").get("flags", [])
    return not any(flag.startswith(EXCLUDED_FLAGS) for flag in flags)


def _logged_reasons(row: dict, config: LearningConfig, negative: bool) -> list[str]:
    reasons = []
    if negative:
        reasons.append("negative_feedback")
    if row["action"] == "fallback" or (row["out_of_scope"] and row["action"] != "retrieval"):
        reasons.append("fallback")
    if row["action"] in ("retrieval", "clarify", "handoff"):
        reasons.append(row["action"])
    if row["confidence"] is not None and row["confidence"] < config.low_confidence:
        reasons.append("low_confidence")
    return reasons


def encode_texts(
    model: BotModel, texts: list[str], cache: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """The serving encoder's features for the classifier (`BotModel.encode_features`), in
    batches; `cache` (text -> features) skips texts already encoded by the same model."""
    cache = {} if cache is None else cache
    missing = [t for t in dict.fromkeys(texts) if t not in cache]
    for start in range(0, len(missing), ENCODE_BATCH):
        batch = missing[start : start + ENCODE_BATCH]
        for text, vector in zip(batch, model.encode_features(batch), strict=True):
            cache[text] = vector
    return np.stack([cache[t] for t in texts]).astype(np.float32)


def score_with_model(
    model: BotModel, picks: list[Pick], features: np.ndarray, config: LearningConfig
) -> None:
    """Fresh predictions, the disagreement check against retrieval, and the final score."""
    texts = [p.message for p in picks]
    predictions = []
    for start in range(0, len(texts), ENCODE_BATCH):
        stop = start + ENCODE_BATCH
        predictions += model.classifier.predict(features[start:stop], texts[start:stop])
    keys = _retrieval_keys(model, texts, model.classifier.sentence_vectors(features))
    for pick, prediction, key in zip(picks, predictions, keys, strict=True):
        ranking = prediction.ranking
        margin = ranking[0][1] - (ranking[1][1] if len(ranking) > 1 else 0.0)
        pick.predicted, pick.predicted_confidence = prediction.top_intent, float(ranking[0][1])
        if pick.predicted_confidence < config.low_confidence and "low_confidence" not in (
            pick.reasons
        ):
            pick.reasons.append("low_confidence")
        if key is not None and key != prediction.top_intent:
            pick.reasons.append("disagreement")
        pick.score = priority(1.0 - margin, pick.reasons)


def priority(uncertainty: float, reasons: list[str]) -> float:
    """uncertainty x (1 + model reasons) + customer reasons."""
    model = sum(MODEL_REASONS.get(reason, 0.0) for reason in reasons)
    customer = sum(CUSTOMER_REASONS.get(reason, 0.0) for reason in reasons)
    return round(uncertainty * (1.0 + model) + customer, 4)


def _retrieval_keys(model: BotModel, texts: list[str], vectors: np.ndarray) -> list[str | None]:
    """Per text, the answer key (intent) of the knowledge base's confident top hit, if any."""
    info = model.manifest.retrieval
    if model.index is None or info is None:
        return [None] * len(texts)
    keys: list[str | None] = []
    for start in range(0, len(texts), ENCODE_BATCH):
        stop = start + ENCODE_BATCH
        for hits in model.index.search(texts[start:stop], vectors[start:stop], 1):
            best = hits[0] if hits else None
            confident = best is not None and best.score >= info.min_score
            keys.append(best.passage.key if confident else None)
    return keys


def cluster_vectors(vectors: np.ndarray, clusters: int, seed: int) -> np.ndarray:
    """Topic ids by k-means over unit vectors (cosine geometry)."""
    if clusters <= 1 or len(vectors) <= 1:
        return np.zeros(len(vectors), dtype=int)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return KMeans(n_clusters=clusters, n_init=3, random_state=seed).fit_predict(unit)


def spread_over_clusters(picks: list[Pick], size: int) -> list[Pick]:
    """Round-robin over clusters: each cluster's best, then each one's second best..., with
    clusters visited in the order of their best pick's score."""
    groups: dict[int, list[Pick]] = defaultdict(list)
    for pick in sorted(picks, key=lambda p: -p.score):
        groups[pick.cluster or 0].append(pick)
    ordered = sorted(groups.values(), key=lambda group: -group[0].score)
    chosen: list[Pick] = []
    depth = 0
    while len(chosen) < size and any(depth < len(group) for group in ordered):
        chosen += [group[depth] for group in ordered if depth < len(group)]
        depth += 1
    return chosen[:size]


def run_review(
    db_path: Path,
    model_dir: Path,
    size: int,
    config: LearningConfig | None = None,
    seed: int = 0,
) -> list[Pick]:
    """Pick and queue turns for the review page; returns the picks."""
    log = LearningLog.open(db_path)
    try:
        picks = pick_for_review(log, BotModel.load(model_dir), size, config, seed)
        log.enqueue([p.to_json() for p in picks], f"review-{time.strftime('%Y%m%d-%H%M%S')}")
    finally:
        log.close()
    return picks
