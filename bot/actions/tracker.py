"""What an action may know about a conversation, and the Rasa tracker JSON built from it.

`ConversationView` is a snapshot the dialogue manager hands to a runner; runners turn it
into the `tracker` object rasa-sdk expects (`Tracker.from_dict`). Applying an action's
events gives the next snapshot, so the same rules hold for local and remote actions.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.actions.events import (
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SlotSet,
    event_to_dict,
)

ACTION_LISTEN = "action_listen"


@dataclass(frozen=True)
class LatestMessage:
    """The customer's last message as the NLU understood it (Rasa's `parse_data`)."""

    text: str
    intent: str | None = None
    confidence: float | None = None
    entities: tuple[Mapping[str, Any], ...] = ()
    intent_ranking: tuple[tuple[str, float], ...] = ()

    def to_parse_data(self) -> dict[str, Any]:
        ranking = self.intent_ranking or (
            ((self.intent, self.confidence or 0.0),) if self.intent else ()
        )
        intent = {"name": self.intent, "confidence": self.confidence or 0.0}
        return {
            "text": self.text,
            "intent": intent if self.intent else {},
            "entities": [dict(entity) for entity in self.entities],
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        }


@dataclass(frozen=True)
class ConversationView:
    """A read-only snapshot of one conversation, enough to build a Rasa tracker."""

    sender_id: str
    latest_message: LatestMessage | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    events: tuple[Mapping[str, Any], ...] = ()
    """The history in Rasa's wire format, oldest first (see `events_from_history`)."""
    active_loop: str | None = None
    paused: bool = False
    latest_action_name: str | None = ACTION_LISTEN
    input_channel: str | None = None

    def with_message(self, message: LatestMessage) -> ConversationView:
        """The view once `message` has arrived: it is the latest, and the last user event."""
        user = _user_event(message, self.input_channel, time.time())
        return replace(
            self,
            latest_message=message,
            events=(*self.events, user),
            latest_action_name=ACTION_LISTEN,
        )


def tracker_state(view: ConversationView) -> dict[str, Any]:
    """The `tracker` object of a rasa-sdk action call (`rasa_sdk.types.TrackerState`)."""
    latest = view.latest_message.to_parse_data() if view.latest_message else {}
    events = [dict(event) for event in view.events]
    return {
        "sender_id": view.sender_id,
        "slots": dict(view.slots),
        "latest_message": latest,
        "latest_event_time": events[-1].get("timestamp") if events else None,
        "events": events,
        "paused": view.paused,
        "followup_action": None,
        "active_loop": {"name": view.active_loop} if view.active_loop else {},
        "latest_action_name": view.latest_action_name,
        "latest_input_channel": view.input_channel,
    }


def _user_event(message: LatestMessage, channel: str | None, at: float | None) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": at,
        "text": message.text,
        "parse_data": message.to_parse_data(),
        "input_channel": channel,
    }


def apply_events(
    view: ConversationView, events: Iterable[Event], action_name: str | None = None
) -> ConversationView:
    """The snapshot after an action ran: slots, pause and form state updated, its events
    (then, given `action_name`, its `action` event) appended. Followups are the caller's
    to run, not state."""
    for event in events:
        view = _apply(view, event)
        view = replace(view, events=(*view.events, event_to_dict(event)))
    if action_name is not None:
        executed = {"event": "action", "name": action_name, "timestamp": time.time()}
        view = replace(view, events=(*view.events, executed), latest_action_name=action_name)
    return view


def _apply(view: ConversationView, event: Event) -> ConversationView:
    if isinstance(event, SlotSet):
        return replace(view, slots={**view.slots, event.name: event.value})
    if isinstance(event, AllSlotsReset):
        return replace(view, slots=dict.fromkeys(view.slots))
    if isinstance(event, ConversationPaused | ConversationResumed):
        return replace(view, paused=isinstance(event, ConversationPaused))
    if isinstance(event, ActiveLoop):
        return replace(view, active_loop=event.name)
    if isinstance(event, Restarted):
        return replace(
            view,
            latest_message=None,
            slots=dict.fromkeys(view.slots),
            events=(),
            active_loop=None,
            paused=False,
        )
    return view


def events_from_history(turns: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Rasa user/action/bot events from stored turns (`ConversationStore.history` rows:
    `message`, `intent`, `confidence`, `action`, `responses`, `created_at`). The text is
    the stored, already redacted text: actions never see more than the log keeps."""
    events: list[dict[str, Any]] = []
    for turn in turns:
        at = turn.get("created_at")
        message = LatestMessage(
            turn.get("message") or "", turn.get("intent"), turn.get("confidence")
        )
        events.append(_user_event(message, turn.get("channel"), at))
        events.append({"event": "action", "name": turn.get("action"), "timestamp": at})
        for reply in turn.get("responses") or ():
            data = {"buttons": reply.get("buttons") or []}
            events.append(
                {"event": "bot", "text": reply.get("text"), "data": data, "timestamp": at}
            )
        events.append({"event": "action", "name": ACTION_LISTEN, "timestamp": at})
    return tuple(events)
