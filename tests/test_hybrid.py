"""Hybrid search: the FTS5 query, the fusion, and the case it exists for, an exact error
code that the sentence encoder alone ranks below a look-alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval import bm25_memory, hybrid
from retrieval.bot_model import load_serving_encoder
from retrieval.hybrid import fts_query, fuse, identifiers
from retrieval.index import PassageIndex, SearchSettings
from retrieval.kb_store import KnowledgeStore
from retrieval.model_dir import read_manifest
from retrieval.passage_memory import PassageMemory, PassageVectors
from supportbot.testing import write_file
from training.kb_manager import add_documents

TERMINAL_MD = """# Card terminal help

## Terminal screen problems
If the terminal's screen is blank, shows lines or flickers, hold the power button for ten
seconds to restart it. If the screen stays blank, contact us for a replacement.

## Network errors
Code E-4021 means the terminal lost its network connection. Check the Wi-Fi or Ethernet
cable and restart the terminal.

## Software updates
Code E-5001 means the terminal's software is out of date. Open Settings > Updates and
install the latest version.
"""
CODES_MD = """# Terminal error codes

## Code E-4012
This code means the card reader timed out; unplug it for ten seconds and try again.

## Code E-4120
This code means the battery is below 5 percent; put the terminal on its charger.

## Code E-4201
This code means the terminal's clock is wrong; turn on automatic time in Settings.
"""


def test_fts_query_quotes_content_words_and_keeps_codes_whole():
    assert fts_query("Why does my terminal show E-4012?") == '"terminal" OR "show" OR "e-4012"'
    assert fts_query("hi, can you help me") == '"help"'
    assert fts_query("??") is None


def test_identifiers_are_codes_not_amounts():
    assert identifiers("E-4012 after paying 100 for order 558812, sku AB12") == [
        "e-4012",
        "558812",
        "ab12",
    ]


def test_fusion_adds_relative_bm25_and_exact_identifier_matches():
    dense = {1: 0.70, 2: 0.68, 3: 0.50}
    fused = fuse(dense, [(2, 8.0), (3, 4.0)], weight=0.05, exact={3: 1.0})
    assert [f.passage_id for f in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(0.68 + 0.05)
    assert fused[2].score == pytest.approx(0.50 + 0.05 * 0.5 + hybrid.IDENTIFIER_WEIGHT)


@pytest.fixture(scope="module")
def terminal_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("kb") / "model"))
    docs = model_dir.parent / "docs"
    files = [write_file(docs, "terminal.md", TERMINAL_MD), write_file(docs, "codes.md", CODES_MD)]
    add_documents(model_dir, files, progress=lambda line: None)
    return model_dir


def top_titles(model_dir: Path, query: str, settings: SearchSettings) -> list[str]:
    encoder = load_serving_encoder(model_dir, read_manifest(model_dir), backend="torch")
    index = PassageIndex(KnowledgeStore(model_dir), settings)
    [hits] = index.search([query], encoder.encode([query]), 3)
    return [hit.passage.title for hit in hits]


def test_hybrid_finds_the_exact_error_code_dense_search_misses(terminal_model, monkeypatch):
    query = "my terminal shows E-4120"
    with monkeypatch.context() as patch:
        patch.setattr(hybrid, "IDENTIFIER_WEIGHT", 0.0)
        dense_only = top_titles(terminal_model, query, SearchSettings(lexical_weight=0.0))
    assert dense_only[0] != "Code E-4120"
    assert top_titles(terminal_model, query, SearchSettings())[0] == "Code E-4120"


def test_lexical_candidates_get_their_real_cosine(terminal_model):
    store = KnowledgeStore(terminal_model)
    index = PassageIndex(store, SearchSettings())
    vector = np.zeros((1, index.dimension), dtype=np.float32)
    vector[0, 0] = 1.0
    [hits] = index.search(["E-4201"], vector, 1)
    assert hits[0].passage.title == "Code E-4201" and hits[0].exact == 1.0
    owners, stored = store.passage_vectors([hits[0].passage_id], index.dimension)
    assert hits[0].dense == pytest.approx(float((stored @ vector[0]).max()), abs=1e-6)


def test_small_stores_search_from_memory_as_large_ones_do_from_sqlite(terminal_model, monkeypatch):
    queries = ["terminal screen blank", "battery charger", "update software", "Wi-Fi cable"]
    encoder = load_serving_encoder(terminal_model, read_manifest(terminal_model), backend="torch")
    vectors = encoder.encode(queries)

    def search() -> tuple[PassageIndex, list]:
        index = PassageIndex(KnowledgeStore(terminal_model), SearchSettings())
        return index, [[h.to_json() for h in hits] for hits in index.search(queries, vectors, 5)]

    in_memory, from_memory = search()
    assert in_memory.bm25 is not None and not isinstance(in_memory.rows, KnowledgeStore)
    monkeypatch.setattr(bm25_memory, "MAX_PASSAGES", 0)
    on_disk, from_sqlite = search()
    assert on_disk.bm25 is None and isinstance(on_disk.rows, KnowledgeStore)
    assert from_memory == from_sqlite
    assert any(hit["lexical"] > 0 for hits in from_memory for hit in hits)


def test_passage_vectors_from_memory_are_the_stored_ones(terminal_model):
    store = KnowledgeStore(terminal_model)
    memory = PassageMemory.load(store)
    dimension = int(store.meta()["dimension"])
    every_passage = [int(row[0]) for row in store.db.execute("SELECT id FROM passages")]
    for wanted in ([every_passage[0]], every_passage[1::2], every_passage, [10**9]):
        from_memory = memory.passage_vectors(wanted, dimension)
        from_sqlite = store.passage_vectors(wanted, dimension)
        assert as_rows(*from_memory) == as_rows(*from_sqlite)
        assert len(from_memory[0]) >= len(set(wanted) & set(every_passage))


def test_an_empty_store_has_no_passage_vectors():
    vectors = PassageVectors([], dimension=4)
    owners, matrix = vectors.of([1, 2])
    assert owners.shape == (0,) and matrix.shape == (0, 4)


def as_rows(owners: np.ndarray, vectors: np.ndarray) -> list[tuple[int, bytes]]:
    return sorted((int(o), v.tobytes()) for o, v in zip(owners, vectors, strict=True))
