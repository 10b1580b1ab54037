"""The conversation log against a real SQLite file."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import bot.store.conversation_log
from bot.store.conversation_log import (
    ConversationStore,
    SQLiteConversationStore,
    TurnRecord,
    open_database,
)
from supportbot.errors import SupportbotError


def make_turn(conversation_id: str, message: str, created_at: float, **overrides) -> TurnRecord:
    fields = {
        "conversation_id": conversation_id,
        "channel": "web",
        "message": message,
        "intent": "card_lost",
        "confidence": 0.91,
        "out_of_scope": False,
        "action": "intent_response",
        "responses": [{"text": f"reply to {message}", "buttons": []}],
        "retrieval_hits": [],
        "moderation": {"action": "allow", "rule": None},
        "latency_ms": 12.5,
        "model_version": "m-1",
        "created_at": created_at,
    }
    fields.update(overrides)
    return TurnRecord(**fields)


@pytest.fixture
async def store(tmp_path: Path):
    store = SQLiteConversationStore(tmp_path / "log.db")
    yield store
    await store.close()


async def test_store_satisfies_the_protocol(store: SQLiteConversationStore):
    assert isinstance(store, ConversationStore)


async def test_history_is_per_conversation_and_oldest_first(store: SQLiteConversationStore):
    await store.log_turn(make_turn("a", "second", created_at=200.0))
    await store.log_turn(make_turn("b", "other", created_at=150.0))
    await store.log_turn(make_turn("a", "first", created_at=100.0))
    await store.log_turn(make_turn("a", "third", created_at=300.0))

    history = await store.history("a")

    assert [turn["message"] for turn in history] == ["first", "second", "third"]
    assert {turn["conversation_id"] for turn in history} == {"a"}
    assert [turn["message"] for turn in await store.history("b")] == ["other"]
    assert await store.history("missing") == []


async def test_history_limit_keeps_the_latest_turns(store: SQLiteConversationStore):
    for second in range(5):
        await store.log_turn(make_turn("a", f"m{second}", created_at=float(second)))

    history = await store.history("a", limit=2)

    assert [turn["message"] for turn in history] == ["m3", "m4"]


async def test_json_columns_round_trip(store: SQLiteConversationStore):
    responses = [
        {
            "text": "Here is how to block your card.",
            "buttons": [{"title": "Block", "payload": "/block"}],
        },
        {"text": "Anything else? ✅", "buttons": []},
    ]
    hits = [{"doc_id": "kb-12", "title": "Lost cards", "score": 0.83}]
    moderation = {"action": "allow", "rule": "injection_flagged"}
    record = make_turn(
        "a",
        "lost my card",
        created_at=10.0,
        intent=None,
        confidence=None,
        out_of_scope=True,
        action="retrieval",
        responses=responses,
        retrieval_hits=hits,
        moderation=moderation,
        metadata={"user_agent": "test", "nested": {"n": [1, 2]}},
    )
    turn_id = await store.log_turn(record)

    [turn] = await store.history("a")

    assert turn["id"] == turn_id
    assert turn["responses"] == responses
    assert turn["retrieval_hits"] == hits
    assert turn["moderation"] == moderation
    assert turn["metadata"] == {"user_agent": "test", "nested": {"n": [1, 2]}}
    assert turn["response"] == "Here is how to block your card.\nAnything else? ✅"
    assert turn["out_of_scope"] is True
    assert turn["intent"] is None and turn["confidence"] is None
    assert turn["action"] == "retrieval"
    assert turn["latency_ms"] == 12.5
    assert turn["model_version"] == "m-1"


async def test_conversation_row_tracks_count_and_last_seen(
    store: SQLiteConversationStore, tmp_path: Path
):
    await store.log_turn(make_turn("a", "one", created_at=100.0))
    await store.log_turn(make_turn("a", "two", created_at=130.0))
    await store.log_turn(make_turn("b", "other", created_at=120.0, channel="slack"))

    db = open_database(tmp_path / "log.db", read_only=True)
    rows = {row["id"]: row for row in db.query("SELECT * FROM conversations")}
    db.close()

    assert rows["a"] == {
        "id": "a",
        "channel": "web",
        "started_at": 100.0,
        "last_seen_at": 130.0,
        "turn_count": 2,
        "sender_id": "a",
        "opt_out": 0,
    }
    assert rows["b"]["channel"] == "slack"
    assert rows["b"]["turn_count"] == 1


async def test_concurrent_writes_all_land(store: SQLiteConversationStore, tmp_path: Path):
    turns = [make_turn(f"c{i % 7}", f"msg {i}", created_at=float(i)) for i in range(200)]

    ids = await asyncio.gather(*(store.log_turn(turn) for turn in turns))

    assert len(set(ids)) == 200
    db = open_database(tmp_path / "log.db", read_only=True)
    assert db["turns"].count == 200
    assert db.execute("SELECT sum(turn_count) FROM conversations").fetchone()[0] == 200
    db.close()


async def test_calls_run_on_one_worker_thread_not_the_loop(
    store: SQLiteConversationStore, monkeypatch
):
    seen: set[int] = set()
    original = bot.store.conversation_log._insert_turn

    def spy(db, row):
        seen.add(threading.get_ident())
        return original(db, row)

    monkeypatch.setattr(bot.store.conversation_log, "_insert_turn", spy)
    await asyncio.gather(*(store.log_turn(make_turn("a", "x", 1.0)) for _ in range(20)))

    assert len(seen) == 1
    assert threading.get_ident() not in seen


async def test_reopened_file_keeps_the_data_and_uses_wal(tmp_path: Path):
    path = tmp_path / "log.db"
    first = SQLiteConversationStore(path)
    await first.log_turn(make_turn("a", "kept", created_at=1.0))
    await first.close()

    second = await SQLiteConversationStore.open(path)
    await second.log_turn(make_turn("a", "added", created_at=2.0))
    history = await second.history("a")
    await second.close()

    assert [turn["message"] for turn in history] == ["kept", "added"]
    db = open_database(path, read_only=True)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db["conversations"].get("a")["turn_count"] == 2
    db.close()


async def test_close_drains_pending_writes(tmp_path: Path):
    path = tmp_path / "log.db"
    store = SQLiteConversationStore(path)
    pending = [asyncio.ensure_future(store.log_turn(make_turn("a", "x", 1.0))) for _ in range(50)]
    await asyncio.sleep(0)

    await store.close()

    assert len(await asyncio.gather(*pending)) == 50
    db = open_database(path, read_only=True)
    assert db["turns"].count == 50
    db.close()


async def test_log_turn_after_close_raises(tmp_path: Path):
    store = SQLiteConversationStore(tmp_path / "log.db")
    await store.close()
    await store.close()

    with pytest.raises(RuntimeError, match="^conversation store is closed$"):
        await store.log_turn(make_turn("a", "late", created_at=1.0))
    with pytest.raises(RuntimeError, match="^conversation store is closed$"):
        await store.history("a")


def test_non_sqlite_file_is_named_in_the_error(tmp_path: Path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 50)

    with pytest.raises(SupportbotError) as caught:
        SQLiteConversationStore(path)

    assert str(caught.value) == f"{path}: not a SQLite database (file is not a database)"


async def test_in_memory_store_for_throwaway_chats():
    store = SQLiteConversationStore(":memory:")
    await store.log_turn(make_turn("a", "hello", created_at=1.0))

    assert [turn["message"] for turn in await store.history("a")] == ["hello"]
    await store.close()


async def test_opt_out_is_sticky_and_sender_defaults_to_the_conversation(tmp_path: Path):
    store = SQLiteConversationStore(tmp_path / "log.db")
    await store.log_turn(make_turn("c1", "one", 1.0, sender_id="ann", opt_out=True))
    await store.log_turn(make_turn("c1", "two", 2.0, sender_id="ann"))
    await store.log_turn(make_turn("c2", "three", 3.0))
    await store.close()

    db = open_database(tmp_path / "log.db", read_only=True)
    rows = {
        r["id"]: (r["sender_id"], r["opt_out"]) for r in db.query("SELECT * FROM conversations")
    }
    db.close()
    assert rows == {"c1": ("ann", 1), "c2": ("c2", 0)}


async def test_a_log_from_before_privacy_columns_is_migrated(tmp_path: Path):
    path = tmp_path / "old.db"
    db = open_database(path)
    db.executescript(
        "CREATE TABLE conversations (id TEXT PRIMARY KEY, channel TEXT, started_at REAL,"
        " last_seen_at REAL, turn_count INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO conversations VALUES ('old', 'web', 1.0, 1.0, 0);"
    )
    db.close()

    store = SQLiteConversationStore(path)
    await store.log_turn(make_turn("old", "after upgrade", 2.0))
    secure_delete = await store.call(lambda db: db.execute("PRAGMA secure_delete").fetchone()[0])
    await store.close()

    db = open_database(path, read_only=True)
    assert db["conversations"].get("old")["opt_out"] == 0
    assert set(db.table_names()) >= {"turns", "derived_rows", "audit_log"}
    db.close()
    assert secure_delete == 1
