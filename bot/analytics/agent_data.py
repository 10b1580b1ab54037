"""Figures that need what people did after a handoff: agent replies and the 1-5 survey.

The log on main has none of it yet (the agent console is its own issue). When the log
holds an `agent_turns` table (conversation_id, created_at) or a `survey_responses` table
(conversation_id, score 1-5), the figures are computed from it; otherwise each is reported
as absent, with why, rather than as zero.
"""

from __future__ import annotations

import statistics

import sqlite_utils

from bot.analytics.sessions import Visit

ABSENT = "no agent data in this log (agent_turns table not present)"
NO_SURVEY = "no survey data in this log (survey_responses table not present)"


def agent_figures(db: sqlite_utils.Database, chosen: list[Visit]) -> dict:
    tables = set(db.table_names())
    handed = [v for v in chosen if v.handed_off]
    agent: dict = {"handed_off_conversations": len(handed)}
    if "agent_turns" in tables:
        agent |= _agent_times(db, handed)
    else:
        agent |= {"first_human_reply_seconds": None, "handling_seconds": None, "absent": ABSENT}
    survey: dict = {"survey": None, "survey_absent": NO_SURVEY}
    if "survey_responses" in tables:
        survey = {"survey": _survey(db, {v.first.conversation_id for v in chosen})}
    return {"agent": agent, "survey": survey}


def _agent_times(db: sqlite_utils.Database, handed: list[Visit]) -> dict:
    first_reply, handling = [], []
    for visit in handed:
        handoff_at = next(t.created_at for t in visit.turns if t.action == "handoff")
        rows = db.execute(
            "SELECT min(created_at), max(created_at) FROM agent_turns"
            " WHERE conversation_id = ? AND created_at >= ?",
            [visit.first.conversation_id, handoff_at],
        ).fetchone()
        if rows and rows[0] is not None:
            first_reply.append(rows[0] - handoff_at)
            handling.append(rows[1] - handoff_at)
    return {
        "answered_by_a_person": len(first_reply),
        "first_human_reply_seconds": _summary(first_reply),
        "handling_seconds": _summary(handling),
    }


def _survey(db: sqlite_utils.Database, conversations: set[str]) -> dict:
    scores = [
        int(score)
        for conversation, score in db.execute(
            "SELECT conversation_id, score FROM survey_responses"
        ).fetchall()
        if conversation in conversations
    ]
    return {
        "responses": len(scores),
        "mean": round(statistics.fmean(scores), 3) if scores else None,
        "by_score": {str(s): scores.count(s) for s in range(1, 6)},
    }


def _summary(values: list[float]) -> dict | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "count": len(values),
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
    }
