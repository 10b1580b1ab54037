"""The conversation log as the learning loop sees it: `supportbot review`, `labels`,
`discover` and `retrain`.

training/ reads and writes the log only through `LearningLog`, the one module of bot/ it
may import (tests/test_layers.py). It keeps the SQL over the log's tables here, beside
the tables, so training code never depends on how the log is stored, and a second store
backend implements these methods rather than training's queries. What it hands out is
the logged, redacted text; opted-out conversations are left out wherever rows become
training data or review picks.
"""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from bot.store import review_labels
from bot.store.conversation_log import open_database
from bot.store.privacy import EXCLUDED_FLAGS
from bot.store.review_labels import Label, LabelError, check_label

__all__ = ["EXCLUDED_FLAGS", "Label", "LabelError", "LearningLog", "check_label"]

REVIEW_CANDIDATES = """
SELECT t.id AS turn_id, t.conversation_id, t.message, t.intent, t.confidence,
       t.out_of_scope, t.action, t.response, t.moderation
FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE c.opt_out = 0 AND t.message IS NOT NULL AND t.message != ''
  AND t.id NOT IN (SELECT turn_id FROM review_labels)
  AND t.id NOT IN (SELECT turn_id FROM review_queue)
ORDER BY t.id
"""
FELL_THROUGH = """
SELECT t.id AS turn_id, t.message FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE c.opt_out = 0 AND t.message IS NOT NULL AND t.message != '' AND t.message NOT LIKE '/%'
  AND (t.action IN ('fallback', 'retrieval') OR t.out_of_scope = 1)
  AND t.id NOT IN (SELECT turn_id FROM review_labels)
ORDER BY t.id DESC LIMIT ?
"""
LABELLED = """
SELECT l.turn_id, l.text, t.intent AS bot_intent, t.confidence, l.intent, l.new_intent, l.reply
FROM review_labels l JOIN turns t ON t.id = l.turn_id ORDER BY l.turn_id
"""
BEFORE_HANDOFF = """
SELECT (SELECT p.id FROM turns p WHERE p.conversation_id = h.conversation_id
        AND p.id < h.id ORDER BY p.id DESC LIMIT 1)
FROM turns h WHERE h.action = 'handoff'
"""


class LearningLog:
    """One open conversation log, with the review tables in place."""

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        review_labels.ensure_schema(db)

    @classmethod
    def open(cls, path: str | Path) -> LearningLog:
        return cls(open_database(path))

    def close(self) -> None:
        self.db.close()

    def review_candidates(self) -> list[dict]:
        """Turns not yet queued or labelled, of conversations that have not opted out, in
        log order, with what the bot did (intent, action, reply, moderation verdict)."""
        return [dict(row) for row in self.db.query(REVIEW_CANDIDATES)]

    def thumbs_down_turns(self) -> set[int]:
        """Turns with a thumbs-down in the web widget's `feedback` table."""
        if "feedback" not in self.db.table_names():
            return set()
        rows = self.db.execute("SELECT turn_id, value FROM feedback").fetchall()
        return {int(turn) for turn, value in rows if value in (-1, "down", "-1")}

    def turns_before_handoff(self) -> set[int]:
        """The customer turn just before each handoff: what the bot could not handle."""
        rows = self.db.execute(BEFORE_HANDOFF).fetchall()
        return {int(row[0]) for row in rows if row[0] is not None}

    def fallen_through(self, limit: int) -> list[dict]:
        """The latest unlabelled messages that fell to fallback, retrieval or out of scope."""
        return [dict(row) for row in self.db.query(FELL_THROUGH, [limit])]

    def enqueue(self, picks: list[dict], batch: str) -> int:
        """Put picks on the review queue (a turn already queued keeps its first entry)."""
        return review_labels.enqueue(self.db, picks, batch)

    def pending_picks(self, limit: int = 1_000_000) -> list[dict]:
        """Queued picks not yet labelled, in pick order."""
        return review_labels.pending_queue(self.db, limit)

    def labelled_rows(self) -> list[dict]:
        """Every stored label with what the bot said of its turn."""
        return [dict(row) for row in self.db.query(LABELLED)]

    def known_turn_ids(self) -> set[int]:
        """Turns a label may name: logged with a message."""
        rows = self.db.execute("SELECT id FROM turns WHERE message != ''").fetchall()
        return {row[0] for row in rows}

    def save_labels(self, labels: list[Label]) -> list[int]:
        """Store labels in one transaction; returns the turn ids not in the log."""
        return review_labels.save_labels(self.db, labels)

    def trainable_labels(self) -> list[dict]:
        """Labels whose turn is still logged and whose conversation has not opted out."""
        return review_labels.trainable_labels(self.db)
