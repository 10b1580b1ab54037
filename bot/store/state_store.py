"""Conversation state (slots, history, handoff status) in the conversation log's SQLite file.

One row per conversation, JSON in `state`, with `status` as its own column so the team's
tools can list handed-off conversations without parsing JSON. It shares the file with the
turn log (WAL lets the CLI change a handoff while the server runs) but has its own
connection and worker thread, so state reads never queue behind batched log writes.

`supportbot handoff take|release` also appends to `handoff_changes`, a journal only the CLI
writes; a running server polls it to push those changes to open widgets (its own changes
it announces itself, so they never appear there twice).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import sqlite_utils

from bot.dialogue.state import BOT, HANDED_OFF, ConversationState
from bot.store.conversation_log import SQLiteConversationStore, open_side_database
from bot.store.executor_batches import ExecutorBatches, Outcome
from bot.store.postgres import PostgresDatabase

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_state (
    conversation_id TEXT PRIMARY KEY,
    status TEXT NOT NULL DEFAULT 'bot',
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_conversation_state_status ON conversation_state (status);
CREATE TABLE IF NOT EXISTS handoff_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    taken INTEGER NOT NULL,
    changed_at REAL NOT NULL
);
"""
JOURNAL_KEEP_SECONDS = 86400
"""Journal rows older than this are deleted by the next CLI change; a server reads new rows
within seconds. AUTOINCREMENT keeps ids rising even when every row has been deleted."""


class HandoffChange(NamedTuple):
    """One journal row: `taken` is True when a person took the conversation over."""

    id: int
    conversation_id: str
    taken: bool


def open_state_db(path: str | Path) -> sqlite_utils.Database:
    return open_side_database(path, STATE_SCHEMA)


def read_state(db: sqlite_utils.Database, conversation_id: str) -> dict | None:
    return _states_by_id(db, [conversation_id]).get(conversation_id)


def read_states(db: sqlite_utils.Database, conversation_ids: list[str]) -> list[Outcome]:
    """`read_state` for many conversations, as `ExecutorBatches` outcomes in input order
    (None for a conversation with no state)."""
    found = _states_by_id(db, conversation_ids)
    return [(found.get(conversation), None) for conversation in conversation_ids]


def _states_by_id(db: sqlite_utils.Database, conversation_ids: list[str]) -> dict[str, dict]:
    """The stored states of those conversations that have one, one query per 500 ids."""
    found: dict[str, dict] = {}
    unique = list(dict.fromkeys(conversation_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        rows = db.execute(
            "SELECT conversation_id, state FROM conversation_state "
            f"WHERE conversation_id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        found.update((conversation, json.loads(state)) for conversation, state in rows)
    return found


def write_state(db: sqlite_utils.Database, conversation_id: str, state: dict) -> None:
    with db.atomic():  # a savepoint when it runs inside the log's group commit
        db.execute(
            "INSERT INTO conversation_state (conversation_id, status, state, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET "
            "status = excluded.status, state = excluded.state, updated_at = excluded.updated_at",
            [
                conversation_id,
                state.get("status", BOT),
                json.dumps(state, ensure_ascii=False),
                state.get("updated_at", time.time()),
            ],
        )


def handed_off(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Conversations a person owns now, longest waiting first."""
    rows = db.execute(
        "SELECT conversation_id, state, updated_at FROM conversation_state "
        "WHERE status = ? ORDER BY updated_at",
        [HANDED_OFF],
    ).fetchall()
    return [
        {
            "conversation_id": conversation_id,
            "reason": json.loads(state).get("handoff_reason"),
            "updated_at": updated_at,
        }
        for conversation_id, state, updated_at in rows
    ]


def set_handoff(db: sqlite_utils.Database, conversation_id: str, take: bool) -> bool:
    """Hand a conversation to a person (take) or back to the bot; False if unknown."""
    stored = read_state(db, conversation_id)
    if stored is None:
        return False
    state = ConversationState.from_json(stored)
    if take:
        state.hand_off("taken over by an agent")
    else:
        state.release()
    write_state(db, conversation_id, state.to_json())
    return True


def set_handoff_journaled(db: sqlite_utils.Database, conversation_id: str, take: bool) -> bool:
    """`set_handoff` for a writer outside the server (the CLI): the change and its journal
    row commit together, so a running server pushes exactly the changes that were made."""
    with _write_transaction(db):
        if not set_handoff(db, conversation_id, take):
            return False
        now = time.time()
        db.execute("DELETE FROM handoff_changes WHERE changed_at < ?", [now - JOURNAL_KEEP_SECONDS])
        db.execute(
            "INSERT INTO handoff_changes (conversation_id, taken, changed_at) VALUES (?, ?, ?)",
            [conversation_id, int(take), now],
        )
    return True


@contextmanager
def _write_transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE: take the write lock (waiting out the server's writes) before the
    read, so no server write lands between reading the state and writing it back.
    PostgreSQL: one transaction."""
    if isinstance(db, PostgresDatabase):
        with db.atomic():
            yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.conn.rollback()
        raise
    db.execute("COMMIT")


def last_handoff_change(db: sqlite_utils.Database) -> int:
    """The journal's highest id, 0 when empty: where a starting server begins to watch."""
    return db.execute("SELECT coalesce(max(id), 0) FROM handoff_changes").fetchone()[0]


def handoff_changes_after(db: sqlite_utils.Database, change_id: int) -> list[HandoffChange]:
    """Journal rows newer than `change_id`, in commit order (one rowid range scan)."""
    rows = db.execute(
        "SELECT id, conversation_id, taken FROM handoff_changes WHERE id > ? ORDER BY id",
        [change_id],
    ).fetchall()
    return [
        HandoffChange(row_id, conversation, bool(taken)) for row_id, conversation, taken in rows
    ]


class SQLiteStateStore:
    """The dialogue stages' StateStore, off the event loop on its own thread.

    Given the conversation log it shares the file with (`writer`), it writes through the
    log's connection and thread. Two connections writing one SQLite file wait for each
    other in SQLite's busy handler, which sleeps 1 to 100 ms per retry: under load that
    left the server idle with turns queued (p99 of 3 s at 64 concurrent customers).
    Reads stay on this store's own connection; WAL never makes them wait for a writer.
    """

    def __init__(self, path: str | Path, writer: SQLiteConversationStore | None = None):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-state")
        self._db = self._executor.submit(open_state_db, path).result()
        self._writer = writer
        self._reads: ExecutorBatches[str, dict | None] = ExecutorBatches(
            self._executor, partial(read_states, self._db)
        )
        """Turns starting together load their states in one query and one hand-off."""

    async def _run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def _write(self, func, *args):
        if self._writer is None:
            return await self._run(func, self._db, *args)
        return await self._writer.write(func, *args)

    async def load_state(self, conversation_id: str) -> dict | None:
        return await self._reads.submit(conversation_id)

    async def save_state(self, conversation_id: str, state: dict) -> None:
        await self._write(write_state, conversation_id, state)

    async def set_handoff(self, conversation_id: str, take: bool) -> bool:
        return await self._write(set_handoff, conversation_id, take)

    async def handed_off(self) -> list[dict[str, Any]]:
        return await self._run(handed_off, self._db)

    async def last_handoff_change(self) -> int:
        return await self._run(last_handoff_change, self._db)

    async def handoff_changes_after(self, change_id: int) -> list[HandoffChange]:
        return await self._run(handoff_changes_after, self._db, change_id)

    async def close(self) -> None:
        await self._run(self._db.conn.close)
        self._executor.shutdown(wait=True)
