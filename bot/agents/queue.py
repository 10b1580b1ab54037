"""The handoff queue's SQL: enqueue, claim (one owner, decided by one UPDATE), release,
notes and surveys. Each function runs on the agent store's thread (bot/agents/store.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils

from bot.agents.tables import audit

WAITING, CLAIMED, CLOSED = "waiting", "claimed", "closed"


def enqueue(
    db: sqlite_utils.Database,
    conversation_id: str,
    channel: str,
    reason: str,
    summary: dict[str, Any],
) -> int:
    """Put the conversation in the queue (again, when it was closed); returns its place,
    1 for the oldest waiting conversation. A conversation already open keeps its row."""
    with db.atomic():
        db.execute(
            "INSERT INTO agent_queue (conversation_id, channel, reason, summary, requested_at,"
            " status) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET"
            " channel = excluded.channel, reason = excluded.reason, summary = excluded.summary,"
            " requested_at = excluded.requested_at, status = excluded.status, agent = NULL,"
            " claimed_at = NULL, closed_at = NULL, outcome = NULL"
            " WHERE agent_queue.status = 'closed'",
            [conversation_id, channel, reason, json.dumps(summary), time.time(), WAITING],
        )
    return place_in_queue(db, conversation_id)


def place_in_queue(db: sqlite_utils.Database, conversation_id: str) -> int:
    row = db.execute(
        "SELECT count(*) FROM agent_queue WHERE status = ? AND requested_at <="
        " (SELECT requested_at FROM agent_queue WHERE conversation_id = ?)",
        [WAITING, conversation_id],
    ).fetchone()
    return int(row[0])


def entry(db: sqlite_utils.Database, conversation_id: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM agent_queue WHERE conversation_id = ?", [conversation_id]))
    return _decoded(rows[0]) if rows else None


def open_entries(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Waiting conversations oldest first, then claimed ones."""
    rows = db.query(
        "SELECT * FROM agent_queue WHERE status != ? ORDER BY status = 'claimed', requested_at",
        [CLOSED],
    )
    return [_decoded(row) for row in rows]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "summary": json.loads(row["summary"])}


def claim(db: sqlite_utils.Database, conversation_id: str, agent: str) -> bool:
    """True for exactly one of any number of agents claiming a waiting conversation."""
    with db.atomic():
        won = db.execute(
            "UPDATE agent_queue SET status = ?, agent = ?, claimed_at = ?"
            " WHERE conversation_id = ? AND status = ?",
            [CLAIMED, agent, time.time(), conversation_id, WAITING],
        ).rowcount
        if won:
            audit(db, agent, "claim", conversation_id)
    return bool(won)


def transfer(db: sqlite_utils.Database, conversation_id: str, agent: str, to: str | None) -> bool:
    """Hand a claimed conversation to another agent, or (`to` None) back to the queue."""
    status = CLAIMED if to else WAITING
    with db.atomic():
        moved = db.execute(
            "UPDATE agent_queue SET status = ?, agent = ? WHERE conversation_id = ?"
            " AND status = ? AND agent = ?",
            [status, to, conversation_id, CLAIMED, agent],
        ).rowcount
        if moved:
            audit(db, agent, "transfer" if to else "unassign", conversation_id, to=to)
    return bool(moved)


def close(
    db: sqlite_utils.Database, conversation_id: str, agent: str, outcome: str
) -> dict[str, Any] | None:
    """Close an open entry (`outcome`: released, resolved, timeout, cancelled); the entry as
    it was, or None when it was not open."""
    with db.atomic():
        before = entry(db, conversation_id)
        if before is None or before["status"] == CLOSED:
            return None
        db.execute(
            "UPDATE agent_queue SET status = ?, closed_at = ?, outcome = ?"
            " WHERE conversation_id = ?",
            [CLOSED, time.time(), outcome, conversation_id],
        )
        audit(db, agent, outcome, conversation_id)
    return before


def overdue(db: sqlite_utils.Database, older_than: float) -> list[str]:
    rows = db.execute(
        "SELECT conversation_id FROM agent_queue WHERE status = ? AND requested_at < ?",
        [WAITING, older_than],
    ).fetchall()
    return [row[0] for row in rows]


def add_note(db: sqlite_utils.Database, conversation_id: str, agent: str, text: str) -> int:
    with db.atomic():
        note = db.execute(
            "INSERT INTO agent_notes (conversation_id, agent, text, created_at)"
            " VALUES (?, ?, ?, ?)",
            [conversation_id, agent, text, time.time()],
        ).lastrowid
        audit(db, agent, "note", conversation_id)
    return int(note or 0)


def notes(db: sqlite_utils.Database, conversation_id: str) -> list[dict[str, Any]]:
    return list(
        db.query(
            "SELECT id, agent, text, created_at FROM agent_notes WHERE conversation_id = ?"
            " ORDER BY id",
            [conversation_id],
        )
    )


def record(db: sqlite_utils.Database, agent: str, action: str, conversation_id: str) -> None:
    """An audit row for an action that changes no queue row (a message sent)."""
    with db.atomic():
        audit(db, agent, action, conversation_id)


def ask_survey(db: sqlite_utils.Database, conversation_id: str, agent: str) -> None:
    with db.atomic():
        db.execute(
            "INSERT INTO agent_surveys (conversation_id, agent, asked_at) VALUES (?, ?, ?)"
            " ON CONFLICT(conversation_id) DO UPDATE SET agent = excluded.agent,"
            " asked_at = excluded.asked_at, score = NULL, answered_at = NULL",
            [conversation_id, agent, time.time()],
        )


def answer_survey(db: sqlite_utils.Database, conversation_id: str, score: int) -> bool:
    """Store the score when a survey is waiting for one; False otherwise."""
    with db.atomic():
        stored = db.execute(
            "UPDATE agent_surveys SET score = ?, answered_at = ? WHERE conversation_id = ?"
            " AND score IS NULL",
            [score, time.time(), conversation_id],
        ).rowcount
    return bool(stored)


def survey(db: sqlite_utils.Database, conversation_id: str) -> dict[str, Any] | None:
    query = "SELECT * FROM agent_surveys WHERE conversation_id = ?"
    rows = list(db.query(query, [conversation_id]))
    return rows[0] if rows else None
