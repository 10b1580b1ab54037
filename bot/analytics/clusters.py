"""Unanswered questions grouped with `supportbot discover`'s clustering
(retrieval/clustering.py) over the served model's sentence vectors."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from retrieval.clustering import DEFAULT_DISTANCE, cluster_labels, clusters_by_typicality, unit_rows
from retrieval.intent_classifier import IntentClassifier

ENCODE_BATCH = 256


@runtime_checkable
class Encodes(Protocol):
    """What the clustering needs of a model (a `BotModel`)."""

    @property
    def classifier(self) -> IntentClassifier: ...

    def encode_features(self, texts: list[str]) -> np.ndarray: ...


def model_clusterer(model: Encodes, distance: float = DEFAULT_DISTANCE):
    """A `Clusterer` (bot.analytics.figures) encoding with `model`: blocking, so call it
    off the event loop."""

    def cluster(texts: list[str]) -> list[list[int]]:
        if len(texts) < 2:
            return [list(range(len(texts)))] if texts else []
        vectors = unit_rows(_sentence_vectors(model, texts))
        labels = cluster_labels(vectors, distance)
        return [[int(i) for i in order] for order, _ in clusters_by_typicality(vectors, labels)]

    return cluster


def _sentence_vectors(model: Encodes, texts: list[str]) -> np.ndarray:
    parts = [
        model.classifier.sentence_vectors(model.encode_features(texts[i : i + ENCODE_BATCH]))
        for i in range(0, len(texts), ENCODE_BATCH)
    ]
    return np.concatenate(parts)
