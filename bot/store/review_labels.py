"""Review tables in the conversation log: the queue of turns picked for a human look
(`supportbot review` fills it) and the labels reviewers give them (the review page, or
`supportbot labels import`).

Both reference `turns(id)` with ON DELETE CASCADE, so forgetting a customer or retention
removes their review rows with their turns. Opted-out conversations are excluded when the
queue is filled and again when labels are read for retraining. Runtime code: no training
imports here.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

import sqlite_utils

from bot.store.postgres import PostgresDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS review_queue (
    turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    message TEXT NOT NULL,
    intent TEXT,
    confidence REAL,
    reply TEXT,
    reasons TEXT NOT NULL,
    cluster INTEGER,
    score REAL,
    batch TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS review_labels (
    turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL,
    text TEXT NOT NULL,
    intent TEXT NOT NULL,
    new_intent INTEGER NOT NULL DEFAULT 0,
    reply TEXT,
    reviewer TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""

UPSERT_LABEL = """
INSERT INTO review_labels (
    turn_id, conversation_id, text, intent, new_intent, reply, reviewer, source, created_at
) VALUES (
    :turn_id, :conversation_id, :text, :intent, :new_intent, :reply, :reviewer, :source,
    :created_at
)
ON CONFLICT(turn_id) DO UPDATE SET
    intent = excluded.intent, new_intent = excluded.new_intent, reply = excluded.reply,
    reviewer = excluded.reviewer, source = excluded.source, created_at = excluded.created_at
"""

INTENT_NAME = re.compile(r"^[^\s/][^\s]{0,99}$")
INTENT_RULE = "1-100 characters without spaces, not starting with '/'"
MAX_REPLY_CHARS = 2000


class LabelError(ValueError):
    """A label that cannot be stored; the message names the field."""


@dataclass(frozen=True)
class Label:
    """A reviewer's verdict on one logged turn: its intent (confirmed, corrected or new) and
    optionally the reply it should have had."""

    turn_id: int
    intent: str
    new_intent: bool = False
    reply: str | None = None
    reviewer: str = "reviewer"
    source: str = "page"


def ensure_schema(db: sqlite_utils.Database) -> None:
    """SQLite: create the tables; PostgreSQL has them from its migrations."""
    if isinstance(db, PostgresDatabase):
        return
    db.execute("PRAGMA foreign_keys=ON")
    db.executescript(SCHEMA)


def check_label(label: Label) -> None:
    """Raise LabelError naming the field when the label is unusable."""
    if not isinstance(label.turn_id, int) or isinstance(label.turn_id, bool):
        raise LabelError("turn_id: expected an integer")
    if not isinstance(label.intent, str) or not INTENT_NAME.match(label.intent):
        raise LabelError(f"intent: expected an intent name ({INTENT_RULE})")
    if label.reply is not None:
        if not isinstance(label.reply, str) or not label.reply.strip():
            raise LabelError("reply: expected a non-empty string or null")
        if len(label.reply) > MAX_REPLY_CHARS:
            raise LabelError(f"reply: longer than {MAX_REPLY_CHARS} characters")


def save_labels(db: sqlite_utils.Database, labels: list[Label]) -> list[int]:
    """Store labels (a later label for a turn replaces the earlier one) in one transaction;
    returns the turn ids that are not in the log (those are not stored)."""
    ensure_schema(db)
    for label in labels:
        check_label(label)
    missing, now = [], time.time()
    with db.atomic():
        for label in labels:
            turn = db.execute(
                "SELECT conversation_id, message FROM turns WHERE id = ?", [label.turn_id]
            ).fetchone()
            if turn is None or not turn[1]:
                missing.append(label.turn_id)
                continue
            row = {
                "turn_id": label.turn_id,
                "conversation_id": turn[0],
                "text": turn[1],
                "intent": label.intent,
                "new_intent": int(label.new_intent),
                "reply": label.reply,
                "reviewer": label.reviewer,
                "source": label.source,
                "created_at": now,
            }
            db.execute(UPSERT_LABEL, row)
            db.execute(
                "UPDATE review_queue SET status = 'labelled' WHERE turn_id = ?", [label.turn_id]
            )
    return missing


def trainable_labels(db: sqlite_utils.Database) -> list[dict]:
    """Labels fit for training: their turn is still logged and its conversation has not
    opted out. Text is the logged (redacted) message."""
    ensure_schema(db)
    rows = db.query(
        "SELECT l.turn_id, l.conversation_id, l.text, l.intent, l.new_intent, l.reply"
        " FROM review_labels l JOIN conversations c ON c.id = l.conversation_id"
        " WHERE c.opt_out = 0 ORDER BY l.turn_id"
    )
    return [dict(row) for row in rows]


def pending_queue(db: sqlite_utils.Database, limit: int = 200) -> list[dict]:
    """Queued picks not yet labelled, opted-out conversations left out, in pick order."""
    ensure_schema(db)
    rows = db.query(
        "SELECT q.* FROM review_queue q JOIN conversations c ON c.id = q.conversation_id"
        " WHERE q.status = 'pending' AND c.opt_out = 0 ORDER BY q.created_at, q.score DESC"
        " LIMIT ?",
        [limit],
    )
    return [{**row, "reasons": json.loads(row["reasons"])} for row in rows]


def enqueue(db: sqlite_utils.Database, picks: list[dict], batch: str) -> int:
    """Put picks on the queue (a turn already queued keeps its first entry)."""
    ensure_schema(db)
    now = time.time()
    with db.atomic():
        for pick in picks:
            db.execute(
                "INSERT INTO review_queue (turn_id, conversation_id, message, intent,"
                " confidence, reply, reasons, cluster, score, batch, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [
                    pick["turn_id"],
                    pick["conversation_id"],
                    pick["message"],
                    pick["intent"],
                    pick["confidence"],
                    pick.get("reply"),
                    json.dumps(pick["reasons"]),
                    pick.get("cluster"),
                    pick.get("score"),
                    batch,
                    now,
                ],
            )
    return len(picks)
