"""Grouping messages by meaning: the one clustering `supportbot discover` and the support
analytics share, so a cluster of unanswered questions in a report is the candidate intent
discover proposes for the same messages.

Agglomerative clustering on cosine distance, average linkage: no cluster count to guess,
and outliers stay singletons.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering

DEFAULT_DISTANCE = 0.35
"""Average-linkage cosine distance below which two groups merge."""


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def cluster_labels(vectors: np.ndarray, distance: float = DEFAULT_DISTANCE) -> np.ndarray:
    """A cluster number per row of (unit) `vectors`; needs at least two rows."""
    return AgglomerativeClustering(
        n_clusters=None, distance_threshold=distance, metric="cosine", linkage="average"
    ).fit_predict(vectors)


def clusters_by_typicality(
    vectors: np.ndarray, labels: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """Each cluster's members, most typical (nearest the centroid) first, with the mean
    cosine of its members to the centroid (its cohesion)."""
    found = []
    for cluster in np.unique(labels):
        members = np.flatnonzero(labels == cluster)
        centroid = vectors[members].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        similarity = vectors[members] @ centroid
        found.append((members[np.argsort(-similarity)], float(similarity.mean())))
    return found
