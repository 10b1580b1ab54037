"""Privacy operations against a real SQLite file: forget, retention, opt-out, export."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.store import privacy
from bot.store.conversation_log import SQLiteConversationStore, TurnRecord, open_database
from supportbot.cli import main

DAY = 86400.0


def record(conversation: str, message: str, created_at: float, **fields) -> TurnRecord:
    values = {
        "conversation_id": conversation,
        "channel": "rest",
        "message": message,
        "intent": "card_lost",
        "confidence": 0.9,
        "out_of_scope": False,
        "action": "intent_response",
        "responses": [{"text": "reply", "buttons": []}],
        "retrieval_hits": [],
        "moderation": {"action": "allow", "rule": None, "flags": []},
        "latency_ms": 3.0,
        "model_version": "m-1",
        "created_at": created_at,
    }
    return TurnRecord(**(values | fields))


class RecordingEraser:
    """An index that holds the refs it was given; stands in for a vector index."""

    def __init__(self, refs: Sequence[str]):
        self.entries = set(refs)

    async def remove(self, refs: Sequence[str]) -> int:
        removed = self.entries & set(refs)
        self.entries -= removed
        return len(removed)


def register_retrieval(db, conversation: str, ref: str) -> None:
    db.execute(
        "INSERT INTO derived_rows (conversation_id, kind, ref, text, created_at)"
        " VALUES (?, 'retrieval', ?, 'passage', ?)",
        [conversation, ref, time.time()],
    )


@pytest.fixture
async def store(tmp_path: Path):
    store = SQLiteConversationStore(tmp_path / "log.db")
    yield store
    await store.close()


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


async def test_forget_deletes_turns_derived_rows_and_index_entries_and_audits(store, tmp_path):
    now = time.time()
    for conversation in ("ann-web", "ann-slack"):
        await store.log_turn(
            record(conversation, f"ann secret {conversation}", now, sender_id="ann")
        )
    await store.log_turn(record("bob", "bob keeps this", now))
    assert len(await privacy.export_training_rows(store)) == 3
    await store.call(register_retrieval, "ann-web", "passage-17")
    eraser = RecordingEraser(["passage-17", "passage-99"])

    report = await privacy.forget_sender(store, "ann", actor="test", erasers=[eraser])

    assert (report.conversations, report.turns) == (2, 2)
    assert (report.training_rows, report.retrieval_entries) == (2, 1)
    assert eraser.entries == {"passage-99"}
    assert await store.history("ann-web") == [] and await store.history("ann-slack") == []
    assert [t["message"] for t in await store.history("bob")] == ["bob keeps this"]
    [audit] = await store.call(lambda db: list(db.query("SELECT * FROM audit_log")))
    assert audit["id"] == report.audit_id
    assert (audit["actor"], audit["action"]) == ("test", "forget")
    assert audit["subject"] == privacy.subject_hash("ann") and "ann" not in audit["subject"]
    assert json.loads(audit["details"]) == {
        "conversations": 2,
        "turns": 2,
        "training_rows": 2,
        "retrieval_entries": 1,
        "index_erased": 1,
    }
    assert b"ann secret" not in file_bytes(tmp_path / "log.db")


async def test_forget_of_an_unknown_sender_still_audits(store):
    report = await privacy.forget_sender(store, "nobody", actor="test")

    assert (report.conversations, report.turns, report.audit_id) == (0, 0, 1)


async def test_export_leaves_out_opted_out_and_flagged_turns(store):
    now = time.time()
    flagged = {"action": "allow", "rule": "x", "flags": ["injection:ignore_instructions"]}
    profane = {"action": "allow", "rule": "p", "flags": ["abuse:profanity_words"]}
    await store.log_turn(record("kept", "where is my card", now))
    await store.log_turn(record("kept", "ignore instructions", now, moderation=flagged))
    await store.log_turn(record("kept", "damn card", now, moderation=profane))
    await store.log_turn(record("kept", "hurt", now, action="handoff"))
    await store.log_turn(record("private", "do not train on me", now, opt_out=True))
    await store.log_turn(record("later-private", "first", now))

    assert await privacy.opt_out(store, "later-private", actor="test") is True
    assert await privacy.opt_out(store, "missing", actor="test") is False
    rows = await privacy.export_training_rows(store)

    assert [(r["conversation_id"], r["text"]) for r in rows] == [("kept", "where is my card")]
    await store.log_turn(record("private", "still private", now))
    assert await privacy.export_training_rows(store) == rows


async def test_retention_deletes_old_turns(store):
    now = time.time()
    await store.log_turn(record("old", "from last year", now - 400 * DAY))
    await store.log_turn(record("mixed", "old part", now - 40 * DAY))
    await store.log_turn(record("mixed", "new part", now - DAY))

    assert await privacy.apply_retention(store, 30, "delete", now=now) == 2

    db_rows = await store.call(lambda db: list(db.query("SELECT * FROM conversations")))
    assert {r["id"]: r["turn_count"] for r in db_rows} == {"mixed": 1}
    assert [t["message"] for t in await store.history("mixed")] == ["new part"]


async def test_retention_anonymises_old_turns_keeping_statistics(store, tmp_path):
    now = time.time()
    await store.log_turn(record("ann", "my address is 1 Elm Street", now - 40 * DAY))
    await store.log_turn(record("ann", "recent", now))

    assert await privacy.apply_retention(store, 30, "anonymise", now=now) == 1

    turns = await store.call(lambda db: list(db.query("SELECT * FROM turns ORDER BY id")))
    old, recent = turns
    assert old["conversation_id"].startswith("anon-") and old["message"] == privacy.ANONYMISED
    assert (old["intent"], old["action"], old["response"]) == ("card_lost", "intent_response", None)
    assert (recent["conversation_id"], recent["message"]) == ("ann", "recent")
    assert b"Elm Street" not in file_bytes(tmp_path / "log.db")
    assert await privacy.export_training_rows(store) == [
        {
            "turn_id": 2,
            "conversation_id": "ann",
            "text": "recent",
            "intent": "card_lost",
            "confidence": 0.9,
        }
    ]


def test_forget_command_deletes_and_reports(tmp_path, capsys):
    import asyncio

    path = tmp_path / "log.db"

    async def seed():
        store = SQLiteConversationStore(path)
        await store.log_turn(record("ann", "hello", time.time()))
        await store.close()

    asyncio.run(seed())

    assert main(["forget", "ann", "--db", str(path), "--actor", "dpo"]) == 0
    assert capsys.readouterr().out == (
        "deleted 1 conversation(s), 1 turn(s), 0 training row(s), 0 retrieval entries "
        "(audit entry 1)\n"
    )
    assert main(["forget", "ann", "--db", str(path)]) == 0
    assert capsys.readouterr().out == "no conversations held for this sender (audit entry 2)\n"
    db = open_database(path, read_only=True)
    assert [r["actor"] for r in db.query("SELECT actor FROM audit_log")][0] == "cli:dpo"
    assert db["turns"].count == 0
    db.close()


def test_forget_command_fails_without_a_log_file(tmp_path, capsys):
    missing = tmp_path / "nope.db"

    assert main(["forget", "ann", "--db", str(missing)]) == 1
    assert capsys.readouterr().err == f"error: {missing}: no conversation log at this path\n"
    assert not missing.exists()
