"""Wire events to typed events and back; applying them to a conversation snapshot."""

from __future__ import annotations

import pytest
from rasa_sdk import events as sdk

from bot.actions import ConversationView, LatestMessage, apply_events, parse_event
from bot.actions.events import (
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    FollowupAction,
    LoopInterrupted,
    Restarted,
    SessionEnded,
    SessionStarted,
    SlotSet,
    UnknownEvent,
    UserUtteranceReverted,
    event_to_dict,
)


@pytest.mark.parametrize(
    ("wire", "typed"),
    [
        (sdk.SlotSet("plan", "pro"), SlotSet("plan", "pro")),
        (sdk.FollowupAction("action_x"), FollowupAction("action_x")),
        (sdk.ConversationPaused(), ConversationPaused()),
        (sdk.ConversationResumed(), ConversationResumed()),
        (sdk.ActiveLoop("order_form"), ActiveLoop("order_form")),
        (sdk.ActiveLoop(None), ActiveLoop(None)),
        (sdk.LoopInterrupted(True), LoopInterrupted(True)),
        (sdk.Restarted(), Restarted()),
        (sdk.AllSlotsReset(), AllSlotsReset()),
        (sdk.UserUtteranceReverted(), UserUtteranceReverted()),
        (sdk.ActionReverted(), ActionReverted()),
        (sdk.SessionStarted(), SessionStarted()),
        (sdk.SessionEnded(metadata={"why": "done"}), SessionEnded({"why": "done"})),
        (sdk.BotUttered("hello", {"buttons": []}), BotUttered("hello", {"buttons": []})),
        (sdk.ActionExecutionRejected("action_y"), ActionExecutionRejected("action_y")),
    ],
)
def test_every_rasa_sdk_event_helper_parses(wire: dict, typed: object) -> None:
    assert parse_event(wire) == typed
    assert event_to_dict(parse_event(wire))["event"] == wire["event"]


@pytest.mark.parametrize(
    "wire",
    [
        {"event": "agent", "text": "hi"},
        {"event": "followup"},
        {"event": "slot", "name": ""},
        {"no": "event"},
        "slot",
    ],
)
def test_unusable_events_are_kept_as_unknown(wire: object) -> None:
    event = parse_event(wire, "action_x")

    assert isinstance(event, UnknownEvent)


def test_unknown_event_round_trips_unchanged() -> None:
    wire = {"event": "reminder", "intent": "remind", "name": None}

    assert event_to_dict(parse_event(wire)) == wire


def view() -> ConversationView:
    base = ConversationView("c", slots={"plan": "pro", "email": "a@b.c"}, active_loop="form")
    return base.with_message(LatestMessage("hi", "greet", 0.9))


def test_all_slots_reset_keeps_the_slot_names() -> None:
    after = apply_events(view(), [AllSlotsReset()])

    assert after.slots == {"plan": None, "email": None}
    assert after.active_loop == "form"


def test_restart_forgets_everything_but_who() -> None:
    after = apply_events(view(), [ConversationPaused(), Restarted()])

    assert after == ConversationView("c", slots={"plan": None, "email": None}, events=after.events)
    assert [e["event"] for e in after.events] == ["restart"]


def test_pause_then_resume() -> None:
    assert apply_events(view(), [ConversationPaused()]).paused
    assert not apply_events(view(), [ConversationPaused(), ConversationResumed()]).paused


def test_with_message_appends_the_user_event() -> None:
    tracker_events = view().events

    assert len(tracker_events) == 1
    assert tracker_events[0]["event"] == "user"
    assert tracker_events[0]["parse_data"]["intent"] == {"name": "greet", "confidence": 0.9}
