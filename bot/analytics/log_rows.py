"""The log's turns as the analytics read them: one small query over `turns`, its
conversation and its rating, never the message text except for unanswered questions of
conversations that did not opt out.

Read-only: the caller opens the file with `open_database(path, read_only=True)`, so a
report never takes the writer's lock and cannot change the log.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

TURNS_IN_RANGE = """
SELECT t.id, t.conversation_id, t.created_at, t.channel, t.intent, t.out_of_scope,
       t.action, t.model_version, c.sender_id, c.opt_out,
       CASE WHEN t.action = 'handoff' THEN json_extract(t.metadata, '$.handoff_reason') END,
       CASE WHEN t.action = 'retrieval' THEN json_extract(t.retrieval_hits, '$[0].title') END,
       CASE WHEN t.action IN ({unanswered}) AND c.opt_out = 0 THEN t.message END,
       f.value, t.response != ''
FROM turns t
JOIN conversations c ON c.id = t.conversation_id
LEFT JOIN feedback f ON f.turn_id = t.id
WHERE t.created_at >= ? AND t.created_at < ?
ORDER BY t.conversation_id, t.created_at, t.id
"""

UNANSWERED_ACTIONS = ("fallback", "error", "action_failed")
"""Turns where the bot had no answer for the customer's question."""


@dataclass(slots=True)
class LoggedTurn:
    id: int
    conversation_id: str
    created_at: float
    channel: str
    intent: str | None
    out_of_scope: bool
    action: str
    model_version: str
    sender: str
    opt_out: bool
    handoff_reason: str | None
    kb_article: str | None
    unanswered_text: str | None
    """The redacted message of an unanswered turn; None when opted out (counted, not quoted)."""
    rating: int | None
    replied: bool


def logged_turns(db: sqlite_utils.Database, since: float, until: float) -> list[LoggedTurn]:
    """Turns created in [since, until), by conversation, oldest first."""
    marks = ", ".join(f"'{action}'" for action in UNANSWERED_ACTIONS)
    rows = db.execute(TURNS_IN_RANGE.format(unanswered=marks), [since, until]).fetchall()
    return [
        LoggedTurn(
            r[0],
            r[1],
            r[2],
            r[3] or "",
            r[4],
            bool(r[5]),
            r[6],
            r[7] or "",
            r[8] or r[1],
            bool(r[9]),
            r[10],
            r[11],
            r[12],
            r[13],
            bool(r[14]),
        )  # fmt: skip
        for r in rows
    ]


def has_table(db: sqlite_utils.Database, name: str) -> bool:
    return name in db.table_names()
