"""Changes to a model's knowledge base, as one transaction over the SQLite store and the
FAISS index: add, replace and remove documents without re-embedding or rebuilding the rest.

The FAISS index is updated in place (`add_with_ids`, `remove_ids`) and written as a new
generation; it is rebuilt from the stored vectors only when its kind should change (the
collection crossed the exact/approximate line) or its IVF lists no longer fit its size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from retrieval.kb_store import KnowledgeStore, NewDocument
from retrieval.model_dir import RetrievalInfo
from retrieval.vector_files import prune_vector_files, read_vector_file, write_vector_file
from retrieval.vector_index import (
    VectorIndexSettings,
    add_vectors,
    build_vector_index,
    kind_of,
    needs_rebuild,
    remove_vectors,
)
from supportbot.errors import ModelError

LOAD_ATTEMPTS = 5


def open_store(model_dir: Path, info: RetrievalInfo, readonly: bool = False) -> KnowledgeStore:
    """The model's store, checked to be the one training wrote for this model: a store
    copied in from another model would hold vectors from a different encoder."""
    store = KnowledgeStore(model_dir, readonly=readonly)
    found = store.meta().get("store_id")
    if found != info.store_id:
        store.close()
        raise ModelError(
            f"{model_dir}: {info.store} belongs to another model (store id {found}; the "
            f"manifest expects {info.store_id})"
        )
    return store


def vector_settings(info: RetrievalInfo) -> VectorIndexSettings:
    return VectorIndexSettings(info.index, info.approximate_above, info.nprobe, info.seed)


@dataclass
class UpdateResult:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    generation: int = 0
    kind: str = "exact"
    vectors: int = 0
    rebuilt: bool = False
    seconds: float = 0.0


def create_knowledge_base(
    model_dir: Path,
    store_id: str,
    dimension: int,
    documents: list[NewDocument],
    settings: VectorIndexSettings,
) -> UpdateResult:
    """A new store with its first index generation (what `supportbot train` writes)."""
    store = KnowledgeStore(model_dir, create=True)
    try:
        with store.writing():
            store.set_meta({"store_id": store_id, "dimension": dimension, "generation": 0})
        return update_knowledge_base(store, documents, [], settings)
    finally:
        store.close()


def update_knowledge_base(
    store: KnowledgeStore,
    add: list[NewDocument],
    remove: list[str],
    settings: VectorIndexSettings,
) -> UpdateResult:
    """Add (or replace, by name) and remove documents. Removing an unknown name is a
    ModelError raised before anything changes."""
    started = time.perf_counter()
    result = UpdateResult()
    with store.writing():
        meta = store.meta()
        dimension = int(meta["dimension"])
        unknown = sorted(set(remove) - store.document_names())
        if unknown:
            raise ModelError(
                f"no document named {', '.join(map(repr, unknown))} in the knowledge base"
            )
        index = _current_or_empty(store, meta, dimension, settings)
        _apply(store, index, add, remove, result)
        result.rebuilt = needs_rebuild(index, store.counts()[2], settings)
        if result.rebuilt:
            ids, vectors = store.all_vectors(dimension)
            index = build_vector_index(vectors, ids, dimension, settings)
        _commit_generation(store, meta, index, result)
    result.seconds = time.perf_counter() - started
    return result


def _apply(
    store: KnowledgeStore, index: faiss.Index, add: list[NewDocument], remove: list[str], result
) -> None:
    existing = store.document_names()
    removed_ids: list[int] = []
    added: list[tuple[np.ndarray, np.ndarray]] = []
    for name in remove:
        removed_ids += store.delete_document(name)
        result.removed.append(name)
    for document in add:
        if document.name in existing and document.name not in remove:
            removed_ids += store.delete_document(document.name)
            result.replaced.append(document.name)
        else:
            result.added.append(document.name)
        if document.vectors.shape[1:] != (index.d,):
            raise ModelError(
                f"{document.name}: vectors of dimension {document.vectors.shape[1:]} for an "
                f"index of dimension {index.d}"
            )
        added.append(store.insert_document(document))
    remove_vectors(index, removed_ids)
    if added:  # one FAISS call: per-call overhead, not vectors, dominates small documents
        add_vectors(
            index, np.concatenate([v for _, v in added]), np.concatenate([i for i, _ in added])
        )


def _current_or_empty(store: KnowledgeStore, meta: dict, dimension: int, settings):
    if int(meta.get("generation", 0)) == 0:
        empty = np.zeros((0, dimension), dtype=np.float32)
        return build_vector_index(empty, np.zeros(0, dtype=np.int64), dimension, settings)
    return read_vector_file(store.model_dir, meta["vector_file"], meta["vector_sha256"])


def _commit_generation(store: KnowledgeStore, meta: dict, index: faiss.Index, result) -> None:
    """Write the next generation, drop all but it and the current one, record it. Runs
    inside the write transaction, so the next writer cannot race the pruning."""
    generation = int(meta.get("generation", 0)) + 1
    relative, digest = write_vector_file(store.model_dir, generation, index)
    prune_vector_files(store.model_dir, {relative, meta.get("vector_file", "")})
    store.set_meta(
        {
            "generation": generation,
            "vector_file": relative,
            "vector_sha256": digest,
            "vector_count": index.ntotal,
            "index_kind": kind_of(index),
        }
    )
    result.generation, result.kind, result.vectors = generation, kind_of(index), index.ntotal


def load_current_index(store: KnowledgeStore) -> tuple[int, faiss.Index]:
    """(generation, index) as committed now. A writer may delete the file between reading
    the meta row and opening it (two generations later); then read the meta row again."""
    for _ in range(LOAD_ATTEMPTS):
        meta = store.meta()
        if int(meta.get("generation", 0)) == 0:
            raise ModelError(f"{store.path}: the knowledge base has no index yet")
        try:
            index = read_vector_file(store.model_dir, meta["vector_file"], meta["vector_sha256"])
        except FileNotFoundError:
            if store.meta().get("vector_file") == meta["vector_file"]:
                raise ModelError(f"{store.model_dir}: {meta['vector_file']} missing") from None
            continue
        if index.ntotal != int(meta["vector_count"]) or index.d != int(meta["dimension"]):
            raise ModelError(
                f"{store.model_dir}: {meta['vector_file']} does not match the kb store"
            )
        return int(meta["generation"]), index
    raise ModelError(f"{store.model_dir}: the knowledge base changed too often to load")
