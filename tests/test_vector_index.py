"""The FAISS layer: exact below the size line, IVF above it, ids kept through add/remove."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from retrieval.vector_index import (
    VectorIndexSettings,
    add_vectors,
    build_vector_index,
    from_bytes,
    kind_of,
    list_count,
    needs_rebuild,
    remove_vectors,
    search_vectors,
    to_bytes,
    wanted_kind,
)

DIMENSION = 16


def unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_small_collections_get_exact_search():
    vectors = unit_vectors(100)
    index = build_vector_index(vectors, np.arange(100) + 1000, DIMENSION, VectorIndexSettings())
    assert kind_of(index) == "exact"
    scores, ids = search_vectors(index, vectors[:3], 1)
    assert ids[:, 0].tolist() == [1000, 1001, 1002]
    assert scores[:, 0] == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


def test_approximate_index_is_chosen_above_the_size_line():
    settings = VectorIndexSettings(approximate_above=500, nprobe=8)
    vectors = unit_vectors(2000)
    index = build_vector_index(vectors, np.arange(2000), DIMENSION, settings)
    assert kind_of(index) == "approximate"
    assert isinstance(index, faiss.IndexIVFFlat) and index.nlist == list_count(2000)
    assert index.nprobe == 8
    _, ids = search_vectors(index, vectors[:50], 1)
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.9


def test_auto_switches_back_to_exact_only_well_below_the_line():
    settings = VectorIndexSettings(approximate_above=1000)
    assert wanted_kind(1001, settings) == "approximate"
    assert wanted_kind(900, settings, current="approximate") == "approximate"
    assert wanted_kind(499, settings, current="approximate") == "exact"
    assert wanted_kind(900, settings, current="exact") == "exact"


def test_configured_kind_overrides_size():
    assert wanted_kind(10, VectorIndexSettings(kind="approximate")) == "approximate"
    assert wanted_kind(10**7, VectorIndexSettings(kind="exact")) == "exact"


def test_rebuild_when_lists_no_longer_fit_the_size():
    settings = VectorIndexSettings(approximate_above=500)
    index = build_vector_index(unit_vectors(2000), np.arange(2000), DIMENSION, settings)
    assert not needs_rebuild(index, 3000, settings)
    assert needs_rebuild(index, 2000 * 16, settings)
    assert needs_rebuild(index, 200, settings)


@pytest.mark.parametrize("above", [10_000, 500])
def test_remove_and_add_keep_ids(above):
    settings = VectorIndexSettings(approximate_above=above, nprobe=64)
    vectors = unit_vectors(1200)
    index = build_vector_index(vectors[:1000], np.arange(1000), DIMENSION, settings)
    assert remove_vectors(index, list(range(0, 1000, 2))) == 500
    add_vectors(index, vectors[1000:], np.arange(5000, 5200))
    assert index.ntotal == 700
    _, ids = search_vectors(index, vectors[[1, 2, 1100]], 1)
    assert ids[0, 0] == 1
    assert ids[1, 0] % 2 == 1 or ids[1, 0] >= 5000, "a removed id came back"
    assert ids[2, 0] == 5100


def test_serialisation_round_trip():
    index = build_vector_index(unit_vectors(50), np.arange(50), DIMENSION, VectorIndexSettings())
    copy = from_bytes(to_bytes(index), "test")
    assert copy.ntotal == 50 and kind_of(copy) == "exact"
