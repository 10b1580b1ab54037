"""The conversation log: every turn is logged, and a logged turn is never lost.

SQLite blocks, so the store owns one worker thread that holds the only connection and runs
every statement; the event loop awaits it. One thread also means writes are serialised
without locks, and `close()` drains them in order before the file is closed.

Messages arrive already redacted. `secure_delete` is on, so rows removed by privacy
operations (`bot.store.privacy`) are overwritten in the file, not just unlinked.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

import sqlite_utils

from bot.store.group_commit import GroupCommit
from bot.store.postgres import PostgresDatabase, is_postgres_url, redact_url
from bot.store.schema_versions import require_current
from supportbot.errors import SupportbotError

T = TypeVar("T")

JSON_COLUMNS = ("responses", "retrieval_hits", "moderation", "metadata")

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    channel TEXT,
    started_at REAL,
    last_seen_at REAL,
    turn_count INTEGER NOT NULL DEFAULT 0,
    sender_id TEXT,
    opt_out INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    created_at REAL,
    channel TEXT,
    message TEXT,
    intent TEXT,
    confidence REAL,
    out_of_scope INTEGER,
    action TEXT,
    response TEXT,
    responses TEXT,
    retrieval_hits TEXT,
    moderation TEXT,
    latency_ms REAL,
    model_version TEXT,
    metadata TEXT
);
CREATE INDEX IF NOT EXISTS idx_turns_conversation_created
    ON turns (conversation_id, created_at);
CREATE INDEX IF NOT EXISTS idx_turns_created ON turns (created_at);
CREATE TABLE IF NOT EXISTS derived_rows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    ref TEXT NOT NULL,
    text TEXT,
    label TEXT,
    created_at REAL,
    UNIQUE (kind, ref)
);
CREATE INDEX IF NOT EXISTS idx_derived_conversation ON derived_rows (conversation_id);
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    value INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_feedback_conversation ON feedback (conversation_id);
"""

# Columns added after the first release; `_create_schema` adds them to older files.
ADDED_COLUMNS = {
    "conversations": {"sender_id": "TEXT", "opt_out": "INTEGER NOT NULL DEFAULT 0"},
}

UPSERT_CONVERSATION = """
INSERT INTO conversations (
    id, channel, started_at, last_seen_at, turn_count, sender_id, opt_out
) VALUES (:id, :channel, :at, :at, 1, :sender_id, :opt_out)
ON CONFLICT(id) DO UPDATE SET
    last_seen_at = CASE WHEN conversations.last_seen_at > excluded.last_seen_at
        THEN conversations.last_seen_at ELSE excluded.last_seen_at END,
    turn_count = conversations.turn_count + 1,
    opt_out = CASE WHEN conversations.opt_out > excluded.opt_out
        THEN conversations.opt_out ELSE excluded.opt_out END
"""

INSERT_TURN = """
INSERT INTO turns (
    conversation_id, created_at, channel, message, intent, confidence, out_of_scope,
    action, response, responses, retrieval_hits, moderation, latency_ms, model_version,
    metadata
) VALUES (
    :conversation_id, :created_at, :channel, :message, :intent, :confidence, :out_of_scope,
    :action, :response, :responses, :retrieval_hits, :moderation, :latency_ms,
    :model_version, :metadata
)
"""

SELECT_HISTORY = """
SELECT * FROM (
    SELECT * FROM turns WHERE conversation_id = ? ORDER BY created_at DESC, id DESC LIMIT ?
) AS recent ORDER BY created_at, id
"""

UPSERT_FEEDBACK = """
INSERT INTO feedback (turn_id, conversation_id, value, created_at) VALUES (?, ?, ?, ?)
ON CONFLICT(turn_id) DO UPDATE SET value = excluded.value, created_at = excluded.created_at
"""


@dataclass
class TurnRecord:
    """One customer message and what the bot did with it. `message` is already redacted;
    `opt_out` keeps the whole conversation out of retraining, for good."""

    conversation_id: str
    channel: str
    message: str
    intent: str | None
    confidence: float | None
    out_of_scope: bool
    action: str
    responses: list[dict]
    retrieval_hits: list[dict] | None
    """None when the knowledge base was not searched (the intent settled the reply)."""
    moderation: dict
    latency_ms: float
    model_version: str
    created_at: float = field(default_factory=time.time)
    metadata: dict = field(default_factory=dict)
    sender_id: str | None = None
    opt_out: bool = False


@runtime_checkable
class ConversationStore(Protocol):
    """Where turns go. `log_turn` returns only once the turn is durable."""

    async def log_turn(self, record: TurnRecord) -> int: ...

    async def history(self, conversation_id: str, limit: int = 50) -> list[dict]: ...

    async def close(self) -> None: ...


def _turn_row(record: TurnRecord) -> dict[str, Any]:
    """Flatten a record to column values; done on the caller's side so bad data fails early."""
    return {
        "conversation_id": record.conversation_id,
        "created_at": record.created_at,
        "channel": record.channel,
        "message": record.message,
        "intent": record.intent,
        "confidence": record.confidence,
        "out_of_scope": int(record.out_of_scope),
        "action": record.action,
        "response": "\n".join(str(reply.get("text") or "") for reply in record.responses),
        "responses": json.dumps(record.responses, ensure_ascii=False),
        "retrieval_hits": json.dumps(record.retrieval_hits, ensure_ascii=False),
        "moderation": json.dumps(record.moderation, ensure_ascii=False),
        "latency_ms": record.latency_ms,
        "model_version": record.model_version,
        "metadata": json.dumps(record.metadata, ensure_ascii=False),
        "sender_id": record.sender_id or record.conversation_id,
        "opt_out": int(record.opt_out),
    }


def _decode_turn(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row back in the record's shapes: JSON columns parsed, flags as bools."""
    decoded = dict(row)
    for column in JSON_COLUMNS:
        decoded[column] = json.loads(row[column]) if row[column] is not None else None
    decoded["out_of_scope"] = bool(row["out_of_scope"])
    return decoded


def _insert_turn(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    conversation = {
        "id": row["conversation_id"],
        "channel": row["channel"],
        "sender_id": row.pop("sender_id"),
        "opt_out": row.pop("opt_out"),
    }
    db.execute(UPSERT_CONVERSATION, {**conversation, "at": row["created_at"]})
    return int(db.execute(INSERT_TURN, row).lastrowid or 0)


Database = sqlite_utils.Database | PostgresDatabase
"""A store's connection: a SQLite file's, or PostgreSQL's dressed in the same calls."""


def open_database(location: str | Path, *, read_only: bool = False) -> Any:
    """Open the log on the calling thread (tests, CLI export): a SQLite path, or a
    `postgresql://` URL (whose schema must be current); raise if it is neither."""
    if is_postgres_url(location):
        db = PostgresDatabase(str(location), read_only=read_only)
        try:
            require_current(db)
        except SupportbotError:
            db.close()
            raise
        return db
    return _open_sqlite(Path(location), read_only)


def _open_sqlite(path: Path, read_only: bool) -> sqlite_utils.Database:
    try:
        if read_only:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        else:
            conn = sqlite3.connect(str(path), check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        raise SupportbotError(f"{path}: cannot open the database ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        raise SupportbotError(f"{path}: not a SQLite database ({exc})") from exc
    return db


def open_side_database(path: str | Path, schema: str) -> Any:
    """Tables other parts keep in the log's file (dialogue state, web chat sessions, Slack
    event ids), on their own connection: WAL and a busy timeout so it and the store's
    connection do not fail on each other's writes, then the idempotent schema."""
    db = open_database(path)
    if isinstance(db, PostgresDatabase):  # its schema comes from the migrations
        return db
    if str(path) != ":memory:":
        db.enable_wal()
    db.execute("PRAGMA busy_timeout=5000")
    db.executescript(schema)
    return db


def _create_schema(db: Database) -> None:
    """Idempotent: WAL so readers never block the writer; synchronous=FULL so a commit is on
    disk when it returns; secure_delete so deleted personal data is overwritten. PostgreSQL
    gets its schema from the migrations (`supportbot db upgrade`), checked at open."""
    if isinstance(db, PostgresDatabase):
        return
    db.enable_wal()
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA secure_delete=ON")
    db.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = set(db[table].columns_dict)
        for name, definition in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


class SQLiteConversationStore:
    """The conversation log in one SQLite file, driven from one dedicated worker thread."""

    def __init__(self, path: str | Path):
        """Open (creating if needed) the file. Blocks briefly: call at start-up or via `open`."""
        self.path: Path | str = str(path) if is_postgres_url(path) else Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-store")
        self._closed = False
        try:
            self._db = self._executor.submit(self._open).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            raise
        self._writes = GroupCommit(self._db, self._executor)
        self.observe: Callable[[str, float], None] | None = None
        """Told (operation, seconds) after each `log_turn` and `history` (the server's
        metrics); None: nobody listens."""

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteConversationStore:
        """Construct without blocking the event loop."""
        return await asyncio.to_thread(cls, path)

    def _open(self) -> Any:
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = open_database(self.path)
        try:
            _create_schema(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise SupportbotError(
                f"{redact_url(str(self.path))}: cannot use as a conversation log ({exc})"
            ) from exc
        return db

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("conversation store is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)

    async def log_turn(self, record: TurnRecord) -> int:
        """Append a turn and bump its conversation; committed before this returns."""
        started = time.perf_counter()
        turn_id = await self.write(_insert_turn, _turn_row(record))
        if self.observe is not None:
            self.observe("log_turn", time.perf_counter() - started)
        return turn_id

    async def write(self, func: Callable[..., T], *args: Any) -> T:
        """`func(db, *args)` on the store's thread and connection, committed before this
        returns, in one transaction with the other writes queued meanwhile (group commit)."""
        if self._closed:
            raise RuntimeError("conversation store is closed")
        return await self._writes.write(func, *args)

    async def history(self, conversation_id: str, limit: int = 50) -> list[dict]:
        """The last `limit` turns of a conversation, oldest first."""
        started = time.perf_counter()
        rows = await self._run(self._read_history, conversation_id, limit)
        if self.observe is not None:
            self.observe("history", time.perf_counter() - started)
        return rows

    def _read_history(self, conversation_id: str, limit: int) -> list[dict]:
        rows = self._db.query(SELECT_HISTORY, [conversation_id, limit])
        return [_decode_turn(row) for row in rows]

    async def record_feedback(self, conversation_id: str, turn_id: int, value: int) -> bool:
        """A customer's rating (+1 / -1) of a turn's replies, replacing an earlier one; False
        when the turn is not in that conversation, so nobody rates another's turns."""
        return await self._run(self._write_feedback, conversation_id, turn_id, value)

    def _write_feedback(self, conversation_id: str, turn_id: int, value: int) -> bool:
        with self._db.atomic():
            owned = self._db.execute(
                "SELECT 1 FROM turns WHERE id = ? AND conversation_id = ?",
                [turn_id, conversation_id],
            ).fetchone()
            if owned:
                self._db.execute(UPSERT_FEEDBACK, [turn_id, conversation_id, value, time.time()])
        return owned is not None

    async def feedback(self, conversation_id: str) -> dict[int, int]:
        """The conversation's ratings by turn id."""
        return await self._run(self._read_feedback, conversation_id)

    def _read_feedback(self, conversation_id: str) -> dict[int, int]:
        rows = self._db.execute(
            "SELECT turn_id, value FROM feedback WHERE conversation_id = ?", [conversation_id]
        ).fetchall()
        return {int(turn_id): int(value) for turn_id, value in rows}

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run `func(db, *args)` on the store's thread, with its connection: for maintenance
        that must not race the writer (privacy operations, retention, exports)."""
        return await self._run(func, self._db, *args)

    async def close(self) -> None:
        """Let queued writes finish, close the file, stop the worker. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._db.close)
        await asyncio.to_thread(self._executor.shutdown, True)
