"""The tracker and domain JSON sent to actions, and the replies a result becomes."""

from __future__ import annotations

from rasa_sdk import Tracker

from bot import messages
from bot.actions import (
    ActionResult,
    BotMessage,
    ConversationView,
    FailureReason,
    LatestMessage,
    build_domain,
    events_from_history,
    replies_for,
    tracker_state,
)
from bot.channels.base import OutboundReply, QuickReply
from retrieval.bot_model import ResponseTemplate

HISTORY = [
    {
        "message": "my order is late",
        "intent": "order_status",
        "confidence": 0.8,
        "action": "respond_order_status",
        "responses": [{"text": "Which order?", "buttons": []}],
        "created_at": 100.0,
        "channel": "web",
    }
]


def test_tracker_state_loads_in_rasa_sdk() -> None:
    message = LatestMessage(
        "A-17",
        "inform",
        0.7,
        entities=({"entity": "order_id", "value": "A-17"},),
        intent_ranking=(("inform", 0.7), ("greet", 0.2)),
    )
    past = ConversationView("c", slots={"order_id": None}, events=events_from_history(HISTORY))
    tracker = Tracker.from_dict(tracker_state(past.with_message(message)))

    assert tracker.latest_message["intent_ranking"][1] == {"name": "greet", "confidence": 0.2}
    assert list(tracker.get_latest_entity_values("order_id")) == ["A-17"]
    assert tracker.get_intent_of_latest_message() == "inform"
    assert [e["event"] for e in tracker.events] == ["user", "action", "bot", "action", "user"]
    assert tracker.events[0]["text"] == "my order is late"
    assert tracker.latest_action_name == "action_listen"


def test_domain_from_model_responses() -> None:
    responses = {"greet": [ResponseTemplate("Hi!", (("Orders", "/order_status"),))]}
    domain = build_domain(["greet"], responses, slots=["order_id"], actions=["action_x"])

    assert domain["responses"] == {
        "greet": [{"text": "Hi!", "buttons": [{"title": "Orders", "payload": "/order_status"}]}]
    }
    assert domain["slots"]["order_id"]["type"] == "any"
    assert domain["intents"] == ["greet"] and domain["actions"] == ["action_x"]


def test_replies_render_text_buttons_and_image() -> None:
    result = ActionResult(
        "a",
        (
            BotMessage("Here:", ({"title": "Yes", "payload": "/affirm"}, {"payload": "x"})),
            BotMessage(image="https://example.com/i.png"),
            BotMessage(custom={"only": "json"}),
        ),
    )

    assert replies_for(result) == [
        OutboundReply("Here:", (QuickReply("Yes", "/affirm"),)),
        OutboundReply("https://example.com/i.png"),
    ]


def test_failed_result_gets_the_apology_and_never_the_detail() -> None:
    result = ActionResult.failure("a", FailureReason.TIMEOUT, "secret detail")

    [reply] = replies_for(result)
    assert reply.text == messages.ERROR_APOLOGY
    assert reply.buttons == (QuickReply(messages.HANDOFF_OFFER, "/human_handoff"),)
