"""`supportbot discover`: candidate new intents from the messages the bot could not place.

Messages that fell to fallback, were judged out of scope or were answered only from the
knowledge base are embedded with the serving encoder and grouped by agglomerative
clustering on cosine distance (no cluster count to guess, and outliers stay singletons).
Each group of at least `min_size` messages is a candidate: its most typical examples are
the ones nearest its centroid, and its suggested name comes from its most frequent
content words. A person decides; nothing is added to the data automatically.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from bot.store.learning_log import LearningLog
from retrieval.bot_model import BotModel
from retrieval.clustering import cluster_labels, clusters_by_typicality, unit_rows
from training.review import encode_texts

MAX_MESSAGES = 5000
NAME_WORDS = 3


@dataclass(frozen=True)
class CandidateIntent:
    name: str
    """A suggestion from frequent words; the reviewer names the intent."""
    size: int
    cohesion: float
    """Mean cosine similarity of the members to their centroid."""
    examples: list[str]
    """The most typical members, nearest the centroid first."""
    turn_ids: list[int]

    def to_json(self) -> dict:
        return asdict(self)


def discover_intents(
    log: LearningLog,
    model: BotModel,
    min_size: int = 5,
    distance: float = 0.35,
    examples: int = 5,
) -> list[CandidateIntent]:
    """Candidates, largest first. `distance` is the average-linkage cosine distance below
    which two groups merge."""
    rows = log.fallen_through(MAX_MESSAGES)
    unique = list({" ".join(r["message"].lower().split()): r for r in rows}.values())
    if len(unique) < max(min_size, 2):
        return []
    texts = [r["message"] for r in unique]
    vectors = unit_rows(model.classifier.sentence_vectors(encode_texts(model, texts)))
    candidates = [
        _candidate(order, cohesion, unique, examples)
        for order, cohesion in clusters_by_typicality(vectors, cluster_labels(vectors, distance))
        if len(order) >= min_size
    ]
    return sorted(candidates, key=lambda c: (-c.size, -c.cohesion))


def _candidate(
    order: np.ndarray, cohesion: float, rows: list[dict], examples: int
) -> CandidateIntent:
    texts = [rows[i]["message"] for i in order]
    return CandidateIntent(
        suggest_name(texts),
        len(order),
        round(cohesion, 4),
        texts[:examples],
        [int(rows[i]["turn_id"]) for i in order],
    )


def suggest_name(texts: list[str]) -> str:
    """The most frequent content words, joined with '_' (e.g. `crypto_exchange`)."""
    try:
        counts = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-z]{3,}\b")
        matrix = counts.fit_transform(t.lower() for t in texts)
    except ValueError:
        return "new_intent"
    totals = np.asarray(matrix.sum(axis=0)).ravel()
    words = counts.get_feature_names_out()[np.argsort(-totals, kind="stable")][:NAME_WORDS]
    return "_".join(words) or "new_intent"
