"""The agents' tables, kept in the conversation log's SQLite file beside the turns.

`agent_queue` holds one row per handoff: waiting, claimed by one agent, or closed (with
how: released, resolved, timed out, cancelled). `agent_notes` are private notes and
`agent_surveys` the customers' 1-5 scores. `agent_audit` records every agent action: who,
what, when, which conversation.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.store.conversation_log import open_side_database

AGENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS agent_accounts (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    agent TEXT NOT NULL,
    action TEXT NOT NULL,
    conversation_id TEXT,
    details TEXT
);
CREATE INDEX IF NOT EXISTS idx_agent_audit_conversation ON agent_audit (conversation_id);
CREATE TABLE IF NOT EXISTS agent_queue (
    conversation_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    reason TEXT,
    summary TEXT NOT NULL,
    requested_at REAL NOT NULL,
    status TEXT NOT NULL,
    agent TEXT,
    claimed_at REAL,
    closed_at REAL,
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS idx_agent_queue_status ON agent_queue (status, requested_at);
CREATE TABLE IF NOT EXISTS agent_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    agent TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_agent_notes_conversation ON agent_notes (conversation_id);
CREATE TABLE IF NOT EXISTS agent_surveys (
    conversation_id TEXT PRIMARY KEY,
    agent TEXT,
    score INTEGER,
    asked_at REAL NOT NULL,
    answered_at REAL
);
"""


def open_agent_db(path: str | Path) -> sqlite_utils.Database:
    """The agents' tables in the log file (created when missing), on a connection of its own."""
    return open_side_database(path, AGENT_SCHEMA)


def audit(
    db: sqlite_utils.Database,
    agent: str,
    action: str,
    conversation_id: str | None = None,
    **details: Any,
) -> int:
    cursor = db.execute(
        "INSERT INTO agent_audit (at, agent, action, conversation_id, details)"
        " VALUES (?, ?, ?, ?, ?)",
        [time.time(), agent, action, conversation_id, json.dumps(details, sort_keys=True)],
    )
    return int(cursor.lastrowid or 0)


def audit_rows(db: sqlite_utils.Database, conversation_id: str | None = None) -> list[dict]:
    where, args = ("WHERE conversation_id = ?", [conversation_id]) if conversation_id else ("", [])
    return list(db.query(f"SELECT * FROM agent_audit {where} ORDER BY id", args))
