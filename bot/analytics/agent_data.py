"""Figures for what people did after a handoff: how soon an agent first wrote, how long
they stayed, and the customers' 1-5 survey of the agent.

Agents' messages are turns of their own in the log (action `agent_message`, see
bot/agents/desk.py), so the times come from the visits themselves; the survey answers are
in `agent_surveys` (bot/agents/tables.py). A log whose bot never had agents signed in has
no `agent_queue` table: its agent figures are reported as absent, with why, not as zero.
"""

from __future__ import annotations

import statistics

import sqlite_utils

from bot.analytics.sessions import Visit

ABSENT = "no agent data in this log (agent_queue table not present: no handoff reached the console)"
NO_SURVEY = "no survey data in this log (agent_surveys table not present)"


def agent_figures(db: sqlite_utils.Database, chosen: list[Visit]) -> dict:
    tables = set(db.table_names())
    handed = [v for v in chosen if v.handed_off]
    agent: dict = {"handed_off_conversations": len(handed)}
    if "agent_queue" in tables:
        agent |= _agent_times(handed)
    else:
        agent |= {"first_human_reply_seconds": None, "handling_seconds": None, "absent": ABSENT}
    survey: dict = {"survey": None, "survey_absent": NO_SURVEY}
    if "agent_surveys" in tables:
        survey = {"survey": _survey(db, {v.first.conversation_id for v in chosen})}
    return {"agent": agent, "survey": survey}


def _agent_times(handed: list[Visit]) -> dict:
    """Seconds from the handoff to the first and the last agent message of each visit."""
    first_reply, handling = [], []
    for visit in handed:
        handoff_at = next(t.created_at for t in visit.turns if t.action == "handoff")
        replies = [
            t.created_at
            for t in visit.turns
            if t.action == "agent_message" and t.created_at >= handoff_at
        ]
        if replies:
            first_reply.append(replies[0] - handoff_at)
            handling.append(replies[-1] - handoff_at)
    return {
        "answered_by_a_person": len(first_reply),
        "first_human_reply_seconds": _summary(first_reply),
        "handling_seconds": _summary(handling),
    }


def _survey(db: sqlite_utils.Database, conversations: set[str]) -> dict:
    scores = [
        int(score)
        for conversation, score in db.execute(
            "SELECT conversation_id, score FROM agent_surveys WHERE score IS NOT NULL"
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
