"""Every figure of the support report, from the conversation log (docs/analytics.md has
each definition with its numerator and denominator)."""

from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from bot.analytics.agent_data import agent_figures
from bot.analytics.log_rows import LoggedTurn, logged_turns
from bot.analytics.sessions import Visit, visits
from supportbot.turn_actions import HANDOFF_REASONS, handoff_reason_kind

Clusterer = Callable[[list[str]], list[list[int]]]
"""Groups of indices into the texts, each most typical first (`supportbot discover`'s
clustering with a model; exact text without one)."""

BOT_SILENT = frozenset({"handed_off"})
"""Turns where the bot stayed silent because a person owns the conversation: not bot turns."""
TURN_RATES = {
    "fallback": "fallback",
    "clarification": "clarify",
    "kb_answer": "retrieval",
    "ranked_reply": "ranked_reply",
}
CUTS = ("day", "week", "channel", "intent", "kb_article", "model_version")
VISIT_CUTS = ("day", "week", "channel", "model_version")
TOP_CLUSTERS = 10
EXAMPLES = 3


@dataclass(frozen=True)
class ReportSettings:
    session_gap_minutes: float = 30.0
    return_window_hours: float = 24.0


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def by_text(texts: list[str]) -> list[list[int]]:
    """Exact (case- and space-folded) text groups: the fallback clusterer without a model."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        groups[" ".join(text.lower().split())].append(index)
    return list(groups.values())


def report_figures(
    db: sqlite_utils.Database,
    since: float,
    until: float,
    settings: ReportSettings = ReportSettings(),
    cluster: Clusterer = by_text,
) -> dict:
    """Every figure for visits that started in [since, until). Turns up to the return
    window after `until` are read too, to see whether a customer came back."""
    window = settings.return_window_hours * 3600
    loaded = logged_turns(db, since, until + window)
    all_visits = visits(loaded, settings.session_gap_minutes * 60, window)
    chosen = [v for v in all_visits if since <= v.first.created_at < until]
    turns = [t for v in chosen for t in v.turns]
    return {
        "range": {"since": _iso(since), "until": _iso(until)},
        "settings": {
            "session_gap_minutes": settings.session_gap_minutes,
            "return_window_hours": settings.return_window_hours,
        },
        "generated_at": _iso(time.time()),
        "totals": _visit_figures(chosen) | _turn_figures(turns),
        "handoff_reasons": _handoff_reasons(turns, len(chosen)),
        "abandonment": _abandonment(chosen),
        "satisfaction": {"thumbs": _thumbs(turns), **agent_figures(db, chosen)["survey"]},
        "agent": agent_figures(db, chosen)["agent"],
        "unanswered": _unanswered(turns, cluster),
        "cuts": {cut: _cut(cut, chosen, turns) for cut in CUTS},
        "model_versions": _first_seen(turns),
    }


def _visit_figures(chosen: list[Visit]) -> dict:
    contained = sum(v.contained for v in chosen)
    handed = sum(v.handed_off for v in chosen)
    abandoned = sum(v.abandoned for v in chosen)
    return {
        "conversations": len(chosen),
        "contained": contained,
        "containment_rate": rate(contained, len(chosen)),
        "handed_off_conversations": handed,
        "handoff_rate": rate(handed, len(chosen)),
        "ended_unanswered": sum(v.ended_unanswered for v in chosen),
        "returned": sum(v.returned for v in chosen),
        "abandoned": abandoned,
        "abandonment_rate": rate(abandoned, len(chosen)),
    }


def _turn_figures(turns: Iterable[LoggedTurn]) -> dict:
    bot = [t for t in turns if t.action not in BOT_SILENT]
    counts = Counter(t.action for t in bot)
    figures: dict = {"bot_turns": len(bot)}
    for name, action in TURN_RATES.items():
        figures[f"{name}_turns"] = counts[action]
        figures[f"{name}_rate"] = rate(counts[action], len(bot))
    rated = [t.rating for t in bot if t.rating is not None]
    figures["thumbs_up"] = sum(r > 0 for r in rated)
    figures["thumbs_down"] = sum(r < 0 for r in rated)
    figures["thumbs_down_rate"] = rate(figures["thumbs_down"], len(rated))
    figures["handoff_turns"] = counts["handoff"]
    return figures


def _handoff_reasons(turns: list[LoggedTurn], conversations: int) -> list[dict]:
    kinds = Counter(handoff_reason_kind(t.handoff_reason) for t in turns if t.action == "handoff")
    return [
        {"reason": kind, "handoffs": kinds[kind], "rate": rate(kinds[kind], conversations)}
        for kind in HANDOFF_REASONS
    ]


def _abandonment(chosen: list[Visit]) -> dict:
    waiting_person = sum(v.abandoned and v.last.action in ("handoff", "handed_off") for v in chosen)
    return {
        "abandoned": sum(v.abandoned for v in chosen),
        "waiting_for_a_person": waiting_person,
        "waiting_for_a_reply": sum(v.abandoned for v in chosen) - waiting_person,
        "rate": rate(sum(v.abandoned for v in chosen), len(chosen)),
    }


def _thumbs(turns: list[LoggedTurn]) -> dict:
    replies = [t for t in turns if t.replied and t.action not in BOT_SILENT]
    rated = [t.rating for t in replies if t.rating is not None]
    up = sum(r > 0 for r in rated)
    return {
        "bot_replies": len(replies),
        "rated": len(rated),
        "up": up,
        "down": len(rated) - up,
        "up_rate": rate(up, len(rated)),
        "rated_rate": rate(len(rated), len(replies)),
    }


def _unanswered(turns: list[LoggedTurn], cluster: Clusterer) -> dict:
    unanswered = [t for t in turns if t.action in ("fallback", "error", "action_failed")]
    quotable = [t for t in unanswered if t.unanswered_text]
    texts = [t.unanswered_text or "" for t in quotable]
    groups = sorted(cluster(texts) if texts else [], key=len, reverse=True)[:TOP_CLUSTERS]
    return {
        "turns": len(unanswered),
        "opted_out_not_quoted": len(unanswered) - len(quotable),
        "clusters": [
            {"size": len(g), "examples": list(dict.fromkeys(texts[i] for i in g))[:EXAMPLES]}
            for g in groups
        ],
    }


def _cut(cut: str, chosen: list[Visit], turns: list[LoggedTurn]) -> list[dict]:
    by_key: dict[str, list[LoggedTurn]] = defaultdict(list)
    for turn in turns:
        by_key[_key(cut, turn)].append(turn)
    visits_by_key: dict[str, list[Visit]] = defaultdict(list)
    if cut in VISIT_CUTS:
        for visit in chosen:
            visits_by_key[_key(cut, visit.first)].append(visit)
    rows = []
    for key in sorted(set(by_key) | set(visits_by_key)):
        row: dict = {cut: key}
        if cut in VISIT_CUTS:
            row |= _visit_figures(visits_by_key[key])
        rows.append(row | _turn_figures(by_key[key]))
    return rows


def _key(cut: str, turn: LoggedTurn) -> str:
    if cut in ("day", "week"):
        return _calendar_keys(int(turn.created_at // 86400))[cut == "week"]
    if cut == "kb_article":
        if turn.kb_article:
            return turn.kb_article
        return turn.intent[3:] if turn.intent and turn.intent.startswith("kb:") else "(none)"
    value = {"channel": turn.channel, "intent": turn.intent, "model_version": turn.model_version}
    return value[cut] or "(none)"


@functools.lru_cache(maxsize=4096)
def _calendar_keys(day_number: int) -> tuple[str, str]:
    """The UTC day and ISO week of a day since the epoch, worked out once per day."""
    moment = datetime.fromtimestamp(day_number * 86400, UTC)
    year, week, _ = moment.isocalendar()
    return moment.strftime("%Y-%m-%d"), f"{year}-W{week:02d}"


def _first_seen(turns: list[LoggedTurn]) -> list[dict]:
    first: dict[str, float] = {}
    for turn in turns:
        first[turn.model_version] = min(
            first.get(turn.model_version, turn.created_at), turn.created_at
        )
    return [
        {"model_version": v, "first_seen": _iso(at)}
        for v, at in sorted(first.items(), key=lambda x: x[1])
    ]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
