"""Conversations as the analytics count them: a run of one conversation's turns with no
gap longer than `session_gap_minutes`, so a REST or Slack sender that never ends its
conversation id still has visits, and a customer coming back is a new visit."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from bot.analytics.log_rows import UNANSWERED_ACTIONS, LoggedTurn

WAITING_FOR_A_PERSON = ("handoff", "handed_off")


@dataclass
class Visit:
    turns: list[LoggedTurn] = field(default_factory=list)
    returned: bool = False
    """The same customer came back with one of this visit's questions within the window."""

    @property
    def first(self) -> LoggedTurn:
        return self.turns[0]

    @property
    def last(self) -> LoggedTurn:
        return self.turns[-1]

    @cached_property
    def handed_off(self) -> bool:
        return any(t.action == "handoff" for t in self.turns)

    @cached_property
    def ended_unanswered(self) -> bool:
        return self.last.action in UNANSWERED_ACTIONS

    @property
    def contained(self) -> bool:  # not cached: `returned` is set after the visit is cut
        return not (self.handed_off or self.ended_unanswered or self.returned)

    @cached_property
    def intents(self) -> set[str]:
        return {t.intent for t in self.turns if t.intent and not t.out_of_scope}

    @cached_property
    def abandoned(self) -> bool:
        """Left waiting: the last turn handed off (no agent reply is in this log) or got
        no reply at all."""
        return self.last.action in WAITING_FOR_A_PERSON or not self.last.replied


def visits(turns: list[LoggedTurn], gap_seconds: float, return_seconds: float) -> list[Visit]:
    """Turns (ordered by conversation, then time) cut into visits, each marked `returned`
    when a later visit of the same sender starts within `return_seconds` of its end and
    asks one of its in-scope intents again."""
    found: list[Visit] = []
    for turn in turns:
        current = found[-1] if found else None
        if (
            current is None
            or current.last.conversation_id != turn.conversation_id
            or turn.created_at - current.last.created_at > gap_seconds
        ):
            current = Visit()
            found.append(current)
        current.turns.append(turn)
    _mark_returns(found, return_seconds)
    return found


def _mark_returns(found: list[Visit], return_seconds: float) -> None:
    by_sender: dict[str, list[Visit]] = {}
    for visit in found:
        by_sender.setdefault(visit.first.sender, []).append(visit)
    for own in by_sender.values():
        own.sort(key=lambda v: v.first.created_at)
        for index, visit in enumerate(own):
            asked = visit.intents
            end = visit.last.created_at
            for later in own[index + 1 :]:
                if later.first.created_at - end > return_seconds:
                    break
                if asked & later.intents:
                    visit.returned = True
                    break
