"""Rasa tracker events as typed objects, parsed from the dicts that actions return.

Actions speak rasa-sdk's wire format (`{"event": "slot", "name": ..., "value": ...}`).
The dialogue manager should not pattern-match dicts, so `parse_event` turns each one into
a small frozen dataclass. An event we do not know, or one too malformed to use, becomes
`UnknownEvent`: kept for the record, logged, never an exception in the middle of a turn.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotSet:
    name: str
    value: Any = None
    kind: ClassVar[str] = "slot"


@dataclass(frozen=True)
class FollowupAction:
    """Run this action next, before listening to the customer again."""

    name: str
    kind: ClassVar[str] = "followup"


@dataclass(frozen=True)
class ConversationPaused:
    """The bot stops answering (a human has taken over) until resumed."""

    kind: ClassVar[str] = "pause"


@dataclass(frozen=True)
class ConversationResumed:
    kind: ClassVar[str] = "resume"


@dataclass(frozen=True)
class ActiveLoop:
    """A form (loop) became active; `name=None` deactivates the current one."""

    name: str | None
    kind: ClassVar[str] = "active_loop"


@dataclass(frozen=True)
class LoopInterrupted:
    is_interrupted: bool
    kind: ClassVar[str] = "loop_interrupted"


@dataclass(frozen=True)
class Restarted:
    """Forget the conversation: slots, loop, pause state."""

    kind: ClassVar[str] = "restart"


@dataclass(frozen=True)
class AllSlotsReset:
    kind: ClassVar[str] = "reset_slots"


@dataclass(frozen=True)
class UserUtteranceReverted:
    kind: ClassVar[str] = "rewind"


@dataclass(frozen=True)
class ActionReverted:
    kind: ClassVar[str] = "undo"


@dataclass(frozen=True)
class SessionStarted:
    kind: ClassVar[str] = "session_started"


@dataclass(frozen=True)
class SessionEnded:
    metadata: dict = field(default_factory=dict)
    kind: ClassVar[str] = "session_ended"


@dataclass(frozen=True)
class BotUttered:
    """A message recorded as an event rather than sent through the dispatcher."""

    text: str | None
    data: dict = field(default_factory=dict)
    kind: ClassVar[str] = "bot"


@dataclass(frozen=True)
class ActionExecutionRejected:
    name: str
    kind: ClassVar[str] = "action_execution_rejected"


@dataclass(frozen=True)
class UnknownEvent:
    """An event this bot does not act on (reminders, agent events, typos); kept as sent."""

    event: str
    data: dict
    kind: ClassVar[str] = "unknown"


Event = (
    SlotSet
    | FollowupAction
    | ConversationPaused
    | ConversationResumed
    | ActiveLoop
    | LoopInterrupted
    | Restarted
    | AllSlotsReset
    | UserUtteranceReverted
    | ActionReverted
    | SessionStarted
    | SessionEnded
    | BotUttered
    | ActionExecutionRejected
    | UnknownEvent
)

_NO_FIELDS: dict[str, type] = {
    cls.kind: cls
    for cls in (
        ConversationPaused,
        ConversationResumed,
        Restarted,
        AllSlotsReset,
        UserUtteranceReverted,
        ActionReverted,
        SessionStarted,
    )
}


def _name(raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("needs a non-empty string `name`")
    return name


def _build(kind: str, raw: Mapping[str, Any]) -> Event:
    if kind in _NO_FIELDS:
        return _NO_FIELDS[kind]()
    if kind == "slot":
        return SlotSet(_name(raw), raw.get("value"))
    if kind == "followup":
        return FollowupAction(_name(raw))
    if kind == "active_loop":
        name = raw.get("name")
        return ActiveLoop(name if isinstance(name, str) and name else None)
    if kind == "loop_interrupted":
        return LoopInterrupted(bool(raw.get("is_interrupted")))
    if kind == "session_ended":
        return SessionEnded(dict(raw.get("metadata") or {}))
    if kind == "bot":
        return BotUttered(raw.get("text"), dict(raw.get("data") or {}))
    if kind == "action_execution_rejected":
        return ActionExecutionRejected(_name(raw))
    raise LookupError(kind)


def parse_event(raw: Any, action_name: str = "?") -> Event:
    """One wire event as a typed object; anything unusable becomes `UnknownEvent`, logged."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("event"), str):
        log.warning("action %s returned a value that is not an event; kept as unknown", action_name)
        return UnknownEvent("", {"value": raw})
    kind = raw["event"]
    try:
        return _build(kind, raw)
    except LookupError:
        log.warning(
            "action %s returned event %r, which this bot does not act on", action_name, kind
        )
    except (TypeError, ValueError) as exc:
        log.warning("action %s returned a malformed %r event: %s", action_name, kind, exc)
    return UnknownEvent(kind, dict(raw))


def parse_events(raw_events: Iterable[Any], action_name: str = "?") -> tuple[Event, ...]:
    return tuple(parse_event(raw, action_name) for raw in raw_events)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Back to the wire format, for the tracker's event history."""
    if isinstance(event, UnknownEvent):
        return dict(event.data)
    return {"event": event.kind, **asdict(event)}
