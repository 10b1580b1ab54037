"""BM25 from memory gives FTS5's own ranking: same passages, same order, same scores."""

from __future__ import annotations

import sqlite3

import pytest
import sqlite_utils

from retrieval import bm25_memory
from retrieval.bm25_memory import MemoryBM25
from retrieval.hybrid import fts_query, query_terms

PASSAGES = [
    ("Cards", "When will my card arrive?", "New cards arrive within 5 working days."),
    ("Cards", "My card has not arrived yet", "Cards are posted first class; allow a week."),
    ("Cards", "Where is my new card?", "Track your card's delivery in the app."),
    ("Cards", "Where is my new card?", "Track your card's delivery in the app."),
    ("Top-ups", "How do I top up by bank transfer?", "Use your account number as reference."),
    ("Top-ups", "Why did my top-up fail?", "A top-up fails when the card issuer declines it."),
    ("Fees", "Is there a fee for topping up?", "Topping up by card is free in most countries."),
    ("Fees", "Why was I charged a fee?", "Fees apply to cash withdrawals above 200 a month."),
    ("Pins", "How do I change my PIN?", "Change your PIN at any cash machine."),
    ("Pins", "My PIN is blocked", "Unblock your PIN in the app under Card settings."),
    ("Résumé", "Ünïcode café naïve", "Accents fold: cafe naive resume."),
    ("Empty", "", ""),
    ("Errors", "What does E-4012 mean?", "E-4012: the reader timed out. Top-up cards again."),
    ("Errors", "What does E 4012 mean?", "Code e then 4012 is not e-4012; 4012 e is neither."),
    ("Top-ups", "Top-up top up top-up", "A top-up, then a top up: both are top-ups."),
]
QUERIES = [
    "When will my new card arrive?",
    "cards arriving",
    "Charged a fee for topping up by card",
    "why was my top up declined",  # "top" and "up": up is a stopword, top is not
    "pin blocked change",
    "cafe naïve RESUME",
    "card",
    "fee fee fees",
    "something nobody wrote about",
    "my top-up failed",
    "error E-4012 on the reader",
    "e-4012 top-up e 4012",
    "4012-e",
]


@pytest.fixture
def passages_db(tmp_path) -> sqlite3.Connection:
    """A table and FTS5 index shaped like the knowledge-base store's (retrieval/kb_store.py)."""
    db = sqlite_utils.Database(tmp_path / "kb.sqlite")
    db["passages"].insert_all({"title": t, "question": q, "answer": a} for t, q, a in PASSAGES)
    db["passages"].enable_fts(
        ["title", "question", "answer"], create_triggers=True, tokenize="porter"
    )
    return db.conn


def fts5_ranking(db: sqlite3.Connection, text: str, depth: int) -> list[tuple[int, float]]:
    rows = db.execute(
        "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ? "
        "ORDER BY bm25(passages_fts), rowid LIMIT ?",
        [fts_query(text), depth],
    )
    return [(int(pid), float(score)) for pid, score in rows]


@pytest.mark.parametrize("depth", [3, 30])
def test_memory_ranking_equals_fts5(passages_db, depth):
    memory = MemoryBM25.build(passages_db)
    for text in QUERIES:
        expected = fts5_ranking(passages_db, text, depth)
        found = memory.search(query_terms(text), depth)
        assert [pid for pid, _ in found] == [pid for pid, _ in expected], text
        assert [s for _, s in found] == pytest.approx([s for _, s in expected], rel=1e-9)


def test_ties_keep_passage_order_and_unknown_words_find_nothing(passages_db):
    memory = MemoryBM25.build(passages_db)
    found = memory.search(["where", "new", "card"], 2)
    assert [pid for pid, _ in found] == [3, 4]  # two copies of one question, lower id first
    assert found[0][1] == found[1][1]
    assert memory.search(["zebra"], 5) == []
    assert memory.search([], 5) == []


def test_phrases_of_several_tokens_count_only_adjacent_tokens(passages_db):
    memory = MemoryBM25.build(passages_db)
    found = dict(memory.search(["e-4012"], 10))
    expected = dict(fts5_ranking(passages_db, "e-4012", 10))
    assert found.keys() == expected.keys() == {13, 14}  # "e then 4012" counts, "4012 e" not
    assert memory.search(["e-4012", "zebra-crossing"], 10) == memory.search(["e-4012"], 10)


def test_a_phrase_without_tokens_is_left_to_fts5(passages_db):
    assert MemoryBM25.build(passages_db).search(["__", "card"], 5) is None


def test_the_index_follows_changes_after_a_rebuild(passages_db):
    passages_db.execute(
        "INSERT INTO passages (title, question, answer) VALUES ('Zebra', 'zebra', 'zebra')"
    )
    passages_db.commit()
    assert MemoryBM25.build(passages_db).search(["zebra"], 5)[0][0] == len(PASSAGES) + 1


def test_large_stores_stay_on_fts5(passages_db, monkeypatch):
    monkeypatch.setattr(bm25_memory, "MAX_PASSAGES", len(PASSAGES) - 1)
    assert MemoryBM25.build(passages_db) is None
