"""Scale and incremental-update measurements for benchmarks/retrieval.py, on synthetic
vectors: a two-level Gaussian mixture on the 384-d unit sphere (100 topic directions;
clusters of about 10 vectors around points scattered near a topic; every vector
normalised), because sentence embeddings of support questions are clustered by topic, not
spread uniformly. Queries are fresh draws from the same mixture, never indexed vectors.
"""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np
import psutil

from retrieval.index import Passage
from retrieval.kb_store import KnowledgeStore, NewDocument
from retrieval.knowledge_base import create_knowledge_base, update_knowledge_base
from retrieval.vector_index import (
    VectorIndexSettings,
    build_vector_index,
    kind_of,
    list_count,
    search_vectors,
)

DIMENSION = 384
TOPICS = 100
CLUSTER_SIZE = 10
TOPIC_SPREAD = 0.5
POINT_SPREAD = 0.8
QUERIES = 1000
LATENCY_QUERIES = 300
K = 10


class Mixture:
    """Deterministic clustered vectors; `sample(n)` draws n more from the same mixture."""

    def __init__(self, size: int, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        topics = _normalise(self.rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32))
        clusters = max(1, size // CLUSTER_SIZE)
        owners = self.rng.integers(0, TOPICS, clusters)
        noise = self.rng.standard_normal((clusters, DIMENSION)).astype(np.float32)
        self.centres = _normalise(topics[owners] + TOPIC_SPREAD * noise / np.sqrt(DIMENSION))

    def sample(self, count: int, chunk: int = 100_000) -> np.ndarray:
        out = np.empty((count, DIMENSION), dtype=np.float32)
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            which = self.rng.integers(0, len(self.centres), n)
            noise = self.rng.standard_normal((n, DIMENSION)).astype(np.float32)
            out[start : start + n] = _normalise(
                self.centres[which] + POINT_SPREAD * noise / np.sqrt(DIMENSION)
            )
        return out


def _normalise(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def single_query_ms(index: faiss.Index, queries: np.ndarray, threads: int) -> dict:
    """Median and p90 ms of one query per call through `search_vectors`, as the server
    searches, with `threads` OpenMP threads (the server uses 1). Exact search at 1M costs
    a tenth of a second a query, so it gets fewer queries."""
    count = LATENCY_QUERIES if isinstance(index, faiss.IndexIVF | faiss.IndexHNSW) else 100
    times = []
    for query in queries[:count]:
        started = time.perf_counter()
        search_vectors(index, query[None, :], K, threads)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(times), 3),
        "p90_ms": round(float(np.percentile(times, 90)), 3),
    }


def latencies(index: faiss.Index, queries: np.ndarray, threads: list[int]) -> dict:
    return {f"{n}_thread": single_query_ms(index, queries, n) for n in threads}


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def measure_size(
    size: int, settings: VectorIndexSettings, nprobes: list[int], threads: list[int]
) -> dict:
    """Exact and IVF at one size: build time, memory, single-query latency, recall@10."""
    mixture = Mixture(size)
    vectors, queries = mixture.sample(size), mixture.sample(QUERIES)
    ids = np.arange(size, dtype=np.int64)
    row: dict = {"size": size, "load_average": round(os.getloadavg()[0], 2)}
    started = time.perf_counter()
    exact = build_vector_index(vectors, ids, DIMENSION, VectorIndexSettings(kind="exact"))
    row["exact_build_s"] = round(time.perf_counter() - started, 2)
    truth_scores, truth = search_vectors(exact, queries, K, threads=max(threads))
    row["nn1_cosine"] = round(float(truth_scores[:, 0].mean()), 3)
    row["nn10_cosine"] = round(float(truth_scores[:, K - 1].mean()), 3)
    row["exact"] = latencies(exact, queries, threads)
    del exact
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    ivf = build_vector_index(vectors, ids, DIMENSION, _approximate(settings))
    row["ivf_build_s"] = round(time.perf_counter() - started, 2)
    row["ivf_rss_mb"] = round(rss_mb() - before)
    row["ivf_file_mb"] = round(len(faiss.serialize_index(ivf)) / 2**20)
    row["ivf_lists"] = ivf.nlist
    row["ivf"] = {}
    for nprobe in nprobes:
        ivf.nprobe = min(nprobe, ivf.nlist)
        _, found = search_vectors(ivf, queries, K, threads=max(threads))
        row["ivf"][nprobe] = {
            "recall@10": round(recall_at_k(found, truth), 4),
            **latencies(ivf, queries, threads),
        }
    row["load_average_after"] = round(os.getloadavg()[0], 2)
    return row


def _approximate(settings: VectorIndexSettings) -> VectorIndexSettings:
    return VectorIndexSettings("approximate", settings.approximate_above, settings.nprobe, 0)


def hnsw_reference(size: int, m: int = 32, ef_search: int = 128) -> dict:
    """HNSW, the alternative not chosen, at one size: build time, recall, latency."""
    mixture = Mixture(size)
    vectors, queries = mixture.sample(size), mixture.sample(QUERIES)
    exact = faiss.IndexFlatIP(DIMENSION)
    exact.add(vectors)
    _, truth = exact.search(queries, K)
    index = faiss.IndexHNSWFlat(DIMENSION, m, faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    index.add(vectors)
    build = time.perf_counter() - started
    index.hnsw.efSearch = ef_search
    _, found = index.search(queries, K)
    return {
        "size": size,
        "M": m,
        "efSearch": ef_search,
        "build_s": round(build, 2),
        "recall@10": round(recall_at_k(found, truth), 4),
        **latencies(index, queries, [1]),
    }


def synthetic_document(name: str, vectors: np.ndarray, words: list[str], rng) -> NewDocument:
    """A document of one passage per vector, with a few random words for FTS5."""
    passages = []
    for i in range(len(vectors)):
        text = " ".join(rng.choice(words, 8))
        passages.append(Passage("qa", text, f"answer {name} {i}", f"{name}:{i}", text).to_row())
    texts = [[p["question"]] for p in passages]
    return NewDocument(name, "added", "csv", name, passages, texts, vectors)


def measure_incremental(base: int, added_documents: int, per_document: int) -> dict:
    """Add documents to a kb store holding `base` vectors, then remove them, through
    update_knowledge_base (the path of `supportbot kb add|remove`), against a rebuild."""
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(5000)]
    mixture = Mixture(base + added_documents * per_document)
    settings = VectorIndexSettings()
    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work)
        per_base_doc = 100
        base_docs = [
            synthetic_document(f"base-{i}.csv", mixture.sample(per_base_doc), words, rng)
            for i in range(base // per_base_doc)
        ]
        started = time.perf_counter()
        create_knowledge_base(model_dir, "bench", DIMENSION, base_docs, settings)
        initial = time.perf_counter() - started
        new_docs = [
            synthetic_document(f"new-{i}.md", mixture.sample(per_document), words, rng)
            for i in range(added_documents)
        ]
        store = KnowledgeStore(model_dir)
        added = update_knowledge_base(store, new_docs, [], settings)
        removed = update_knowledge_base(store, [], [d.name for d in new_docs], settings)
        ids, vectors = store.all_vectors(DIMENSION)
        started = time.perf_counter()
        rebuilt = build_vector_index(vectors, ids, DIMENSION, settings)
        rebuild = time.perf_counter() - started
        store.close()
    return {
        "base_vectors": base,
        "base_documents": len(base_docs),
        "initial_build_s": round(initial, 2),
        "index_kind": added.kind,
        "ivf_lists": rebuilt.nlist if kind_of(rebuilt) == "approximate" else None,
        "add_documents": added_documents,
        "add_vectors": added_documents * per_document,
        "add_s": round(added.seconds, 2),
        "add_rebuilt": added.rebuilt,
        "remove_s": round(removed.seconds, 2),
        "remove_rebuilt": removed.rebuilt,
        "vector_rebuild_only_s": round(rebuild, 2),
        "expected_lists": list_count(base),
    }
