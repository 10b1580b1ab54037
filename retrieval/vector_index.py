"""The FAISS side of the knowledge base: exact search for small collections, an IVF index
above a measured size, both keyed by SQLite row ids so vectors can be added and removed
without a rebuild.

Exact is `IndexIDMap2(IndexFlatIP)`. Approximate is `IndexIVFFlat`: unlike HNSW it removes
ids in place (HNSW would need tombstones and rebuilds), it built 100k vectors 3.7x faster
than HNSW with better recall in our measurements, and it stores full vectors, so a hit's
score is the exact cosine and the abstain threshold calibrated on it holds whichever index
answers (docs/benchmarks.md, "Knowledge retrieval").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import faiss
import numpy as np

from supportbot.errors import ModelError

IndexKind = Literal["auto", "exact", "approximate"]
APPROXIMATE_ABOVE = 10_000
"""Vectors above which exact search costs more than IVF (median query time, measured)."""
MIN_LISTS = 16
TRAINING_POINTS_PER_LIST = 40
"""k-means points per IVF list: FAISS warns below 39, and more only slows the build."""
KMEANS_ITERATIONS = 12


@dataclass(frozen=True)
class VectorIndexSettings:
    """How the index is chosen: `kind` "auto" switches to IVF above `approximate_above`
    vectors and back to exact below half of it, so sizes near the line do not flap."""

    kind: IndexKind = "auto"
    approximate_above: int = APPROXIMATE_ABOVE
    nprobe: int = 32
    seed: int = 0


def list_count(size: int) -> int:
    """IVF lists for `size` vectors: the power of two nearest 4 * sqrt(size)."""
    return max(MIN_LISTS, 2 ** round(math.log2(4 * math.sqrt(max(size, 1)))))


def kind_of(index: faiss.Index) -> str:
    return "approximate" if isinstance(index, faiss.IndexIVF) else "exact"


def wanted_kind(size: int, settings: VectorIndexSettings, current: str | None = None) -> str:
    if settings.kind != "auto":
        return settings.kind
    if current == "approximate":
        return "approximate" if size >= settings.approximate_above // 2 else "exact"
    return "approximate" if size > settings.approximate_above else "exact"


def needs_rebuild(index: faiss.Index, size: int, settings: VectorIndexSettings) -> bool:
    """True when the kind should change, or when an IVF index has grown or shrunk so far
    from the size its lists were trained for that its lists are badly sized."""
    current = kind_of(index)
    if wanted_kind(size, settings, current) != current:
        return True
    if current == "approximate":
        ratio = list_count(size) / faiss.extract_index_ivf(index).nlist
        return ratio >= 4 or ratio <= 1 / 4
    return False


def build_vector_index(
    vectors: np.ndarray, ids: np.ndarray, dimension: int, settings: VectorIndexSettings
) -> faiss.Index:
    """A new index over `vectors` (L2-normalised float32) keyed by `ids`."""
    size = len(vectors)
    if wanted_kind(size, settings) == "approximate" and size >= MIN_LISTS:
        index = _trained_ivf(vectors, dimension, settings)
    else:
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    add_vectors(index, vectors, ids)
    return index


def _trained_ivf(vectors: np.ndarray, dimension: int, settings: VectorIndexSettings):
    lists = min(list_count(len(vectors)), len(vectors) // 4)
    index = faiss.IndexIVFFlat(
        faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT
    )
    index.cp.niter = KMEANS_ITERATIONS
    index.cp.seed = settings.seed
    index.cp.min_points_per_centroid = 1  # the sample is sized here; FAISS's warning is noise
    sample_size = min(len(vectors), lists * TRAINING_POINTS_PER_LIST)
    rng = np.random.default_rng(settings.seed)
    sample = vectors[np.sort(rng.choice(len(vectors), sample_size, replace=False))]
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.nprobe = min(settings.nprobe, lists)
    return index


def add_vectors(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> None:
    if len(vectors):
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )


def remove_vectors(index: faiss.Index, ids: list[int]) -> int:
    if not ids:
        return 0
    return int(index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64))))


def set_nprobe(index: faiss.Index, nprobe: int) -> None:
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(nprobe, index.nlist)


def search_vectors(index: faiss.Index, vectors: np.ndarray, depth: int, threads: int = 1):
    """(scores, ids) of the `depth` best vectors per query; id -1 pads short results.

    One OpenMP thread by default: the server searches a few queries at a time, which FAISS
    cannot split usefully, and idle OpenMP workers spinning on a busy machine made a
    single query 30x slower with 2 threads than with 1 (docs/benchmarks.md). The setting
    is per calling thread and restored afterwards.
    """
    depth = max(1, min(depth, index.ntotal))
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        return index.search(np.ascontiguousarray(vectors, dtype=np.float32), depth)
    finally:
        faiss.omp_set_num_threads(previous)


def stored_ids(index: faiss.Index) -> np.ndarray:
    """Every id in the index, to check it against the store's rows."""
    if isinstance(index, faiss.IndexIDMap):
        return faiss.vector_to_array(index.id_map)
    if not isinstance(index, faiss.IndexIVF):
        raise TypeError(f"not an index this module builds: {type(index).__name__}")
    lists = index.invlists
    assert lists is not None, "an IVF index always has inverted lists"
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(index.nlist)
        if lists.list_size(i)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def to_bytes(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def from_bytes(data: bytes, where: str) -> faiss.Index:
    try:
        return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except RuntimeError as exc:
        raise ModelError(f"{where}: not a readable FAISS index") from exc
