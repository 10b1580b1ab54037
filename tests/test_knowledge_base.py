"""The kb store and its FAISS generations: incremental changes, id consistency, index kind
switches, readers seeing writes, and loud errors on damage. Real SQLite, real FAISS."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from retrieval.index import Passage, PassageIndex, SearchSettings
from retrieval.kb_store import KnowledgeStore, NewDocument
from retrieval.knowledge_base import (
    create_knowledge_base,
    load_current_index,
    open_store,
    update_knowledge_base,
)
from retrieval.model_dir import RetrievalInfo
from retrieval.vector_index import VectorIndexSettings, stored_ids
from supportbot.errors import ModelError

DIMENSION = 32
SETTINGS = VectorIndexSettings()


def vectors(count: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def document(name: str, count: int, seed: int, texts_per_passage: int = 1) -> NewDocument:
    passages = [
        Passage("qa", f"{name} question {i}", f"{name} answer {i}", f"{name}:{i + 2}", f"q{i}")
        for i in range(count)
    ]
    texts = [[f"{name} text {i}.{j}" for j in range(texts_per_passage)] for i in range(count)]
    rows = [p.to_row() for p in passages]
    return NewDocument(
        name, "added", "csv", name, rows, texts, vectors(count * texts_per_passage, seed)
    )


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeStore:
    create_knowledge_base(tmp_path, "store-1", DIMENSION, [document("a.csv", 50, 1)], SETTINGS)
    store = KnowledgeStore(tmp_path)
    yield store
    store.close()


def faiss_ids(store: KnowledgeStore) -> set[int]:
    _, index = load_current_index(store)
    ids = stored_ids(index).tolist()
    assert len(ids) == len(set(ids)) == index.ntotal
    return set(ids)


def sqlite_ids(store: KnowledgeStore) -> set[int]:
    return {row[0] for row in store.db.execute("SELECT id FROM vectors")}


def test_incremental_add_and_delete_keep_faiss_and_sqlite_ids_equal(kb):
    first = sqlite_ids(kb)
    assert faiss_ids(kb) == first and len(first) == 50
    result = update_knowledge_base(
        kb, [document("b.csv", 30, 2, texts_per_passage=2)], [], SETTINGS
    )
    assert (result.added, result.rebuilt, result.vectors) == (["b.csv"], False, 110)
    assert faiss_ids(kb) == sqlite_ids(kb)
    update_knowledge_base(kb, [], ["a.csv"], SETTINGS)
    remaining = sqlite_ids(kb)
    assert faiss_ids(kb) == remaining and len(remaining) == 60
    assert min(remaining) > max(first), "ids of deleted rows must never be reused"
    update_knowledge_base(kb, [document("c.csv", 5, 3)], [], SETTINGS)
    assert min(sqlite_ids(kb) - remaining) > max(remaining)
    assert [d.name for d in kb.documents()] == ["b.csv", "c.csv"]


def test_search_maps_vector_ids_back_to_passages(kb):
    added = document("b.csv", 10, 2, texts_per_passage=3)
    update_knowledge_base(kb, [added], [], SETTINGS)
    index = PassageIndex(kb, SearchSettings(lexical_weight=0.0))
    [hits] = index.search(["nothing lexical"], added.vectors[[4]], 3)
    assert hits[0].passage.title == "b.csv question 1"
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len({h.passage_id for h in hits}) == 3


def test_adding_a_document_with_the_same_name_replaces_it(kb):
    result = update_knowledge_base(kb, [document("a.csv", 7, 9)], [], SETTINGS)
    assert result.replaced == ["a.csv"] and result.added == []
    assert [(d.name, d.passages) for d in kb.documents()] == [("a.csv", 7)]
    assert faiss_ids(kb) == sqlite_ids(kb) and len(sqlite_ids(kb)) == 7


def test_crossing_the_size_line_switches_index_kind(kb):
    settings = VectorIndexSettings(approximate_above=120, nprobe=8)
    grown = update_knowledge_base(kb, [document("b.csv", 100, 2)], [], settings)
    assert (grown.kind, grown.rebuilt) == ("approximate", True)
    assert faiss_ids(kb) == sqlite_ids(kb)
    same = update_knowledge_base(kb, [document("c.csv", 10, 3)], [], settings)
    assert (same.kind, same.rebuilt) == ("approximate", False)
    shrunk = update_knowledge_base(kb, [], ["b.csv", "c.csv"], settings)
    assert (shrunk.kind, shrunk.rebuilt) == ("exact", True)
    assert faiss_ids(kb) == sqlite_ids(kb)


def test_a_reader_sees_a_write_from_another_connection(kb, tmp_path):
    reader = PassageIndex(KnowledgeStore(tmp_path), SearchSettings(lexical_weight=0.0))
    added = document("new.csv", 3, 7)
    update_knowledge_base(kb, [added], [], SETTINGS)
    [hits] = reader.search(["q"], added.vectors[[2]], 1)
    assert hits[0].passage.title == "new.csv question 2"
    assert reader.generation == 2


def test_old_generations_are_pruned(kb, tmp_path):
    for seed in range(3):
        update_knowledge_base(kb, [document(f"d{seed}.csv", 2, seed)], [], SETTINGS)
    files = sorted(p.name for p in (tmp_path / "index").glob("vectors-*"))
    assert files == ["vectors-000003.faiss", "vectors-000004.faiss"]


def test_removing_an_unknown_document_changes_nothing(kb):
    with pytest.raises(ModelError, match="no document named 'nope.md' in the knowledge base"):
        update_knowledge_base(kb, [], ["a.csv", "nope.md"], SETTINGS)
    assert [d.name for d in kb.documents()] == ["a.csv"] and kb.generation() == 1


def test_a_failed_write_rolls_back(kb):
    bad = document("bad.csv", 2, 1)
    bad.vectors = bad.vectors[:, :8]
    with pytest.raises(ModelError, match="bad.csv: vectors of dimension"):
        update_knowledge_base(kb, [bad], [], SETTINGS)
    assert [d.name for d in kb.documents()] == ["a.csv"] and kb.generation() == 1


def test_a_tampered_vector_file_is_a_loud_error(kb, tmp_path):
    path = tmp_path / kb.meta()["vector_file"]
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ModelError, match="vectors-000001.faiss does not match the checksum"):
        PassageIndex(kb, SearchSettings())


def test_a_store_from_another_model_is_refused(kb, tmp_path):
    info = RetrievalInfo(
        store="index/kb.sqlite",
        store_id="someone-else",
        count=0,
        min_score=0.5,
        top_k=3,
        lexical_weight=0.05,
        index="auto",
        approximate_above=100,
        nprobe=8,
        seed=0,
        calibration={},
    )
    with pytest.raises(ModelError, match="belongs to another model"):
        open_store(tmp_path, info)


def test_readers_keep_reading_while_a_writer_holds_the_lock(kb, tmp_path):
    reader = PassageIndex(KnowledgeStore(tmp_path, readonly=True), SearchSettings())
    query = document("a.csv", 50, 1).vectors[[3]]
    with kb.writing():
        kb.insert_document(document("pending.csv", 4, 5))
        [hits] = reader.search(["a.csv question 3"], query, 1)
        assert hits[0].passage.title == "a.csv question 3"
        assert len(reader) == 50, "uncommitted rows must stay invisible"
    assert len(reader) == 54


def test_the_server_side_opens_the_store_read_only(kb, tmp_path):
    reader = KnowledgeStore(tmp_path, readonly=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("DELETE FROM meta")
    assert reader.db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_a_store_that_cannot_be_written_is_a_model_error(kb, tmp_path):
    reader = KnowledgeStore(tmp_path, readonly=True)
    with pytest.raises(ModelError, match=r"kb.sqlite: cannot change the knowledge base \("):
        update_knowledge_base(reader, [document("b.csv", 2, 2)], [], SETTINGS)
    assert kb.generation() == 1
