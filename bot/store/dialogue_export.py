"""Logged conversations in the project's dialogue JSONL format (docs/data-format.md), so
the replies of the team's own agents train the next response ranker.

Only what is already stored is read, so every text is redacted. A dialogue holds the
customer's messages and the human agents' replies, in order; bot replies and notices are
left out (the bot must not learn from itself), as are opted-out conversations and those
no agent answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlite_utils

SELECT_TURNS = """
SELECT t.conversation_id, t.message, t.intent, t.out_of_scope, t.action, t.responses
FROM turns t JOIN conversations c ON c.id = t.conversation_id
WHERE c.opt_out = 0 AND t.conversation_id IN (
    SELECT DISTINCT conversation_id FROM turns WHERE action = 'agent_message'
)
ORDER BY t.conversation_id, t.created_at, t.id
"""


def agent_dialogues(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    current: dict[str, Any] | None = None
    for row in db.query(SELECT_TURNS):
        if current is None or current["id"] != row["conversation_id"]:
            if current is not None:
                yield current
            current = {"id": row["conversation_id"], "turns": []}
        current["turns"].extend(_turns(row))
    if current is not None:
        yield current


def _turns(row: dict[str, Any]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    if row["message"]:
        turn: dict[str, Any] = {"speaker": "customer", "text": row["message"]}
        if row["intent"] and not row["out_of_scope"] and not row["message"].startswith("/"):
            turn["intent"] = row["intent"]
        turns.append(turn)
    if row["action"] == "agent_message":
        for reply in json.loads(row["responses"] or "[]"):
            if reply.get("text"):
                turns.append({"speaker": "agent", "text": reply["text"]})
    return turns
