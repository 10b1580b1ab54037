"""Order actions: an async and a sync action, both reading the tracker and setting slots."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher


class SupportAction(Action, ABC):
    """A shared base class: abstract, so neither rasa-sdk nor our discovery registers it."""

    @abstractmethod
    def name(self) -> str: ...

    def order_id(self, tracker: Tracker) -> str | None:
        return next(tracker.get_latest_entity_values("order_id"), None) or tracker.get_slot(
            "order_id"
        )


class CheckOrder(SupportAction):
    def name(self) -> str:
        return "action_check_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        order = self.order_id(tracker)
        dispatcher.utter_message(
            text=f"Order {order} has shipped.",
            buttons=[{"title": "Track it", "payload": "/track_order"}],
        )
        return [SlotSet("order_status", "shipped"), SlotSet("order_id", order)]


class DescribeTracker(Action):
    """Reports what it was given, so tests can check the tracker and domain JSON."""

    def name(self) -> str:
        return "action_describe_tracker"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        intent = tracker.latest_message.get("intent", {})
        seen = {
            "sender_id": tracker.sender_id,
            "text": tracker.latest_message.get("text"),
            "intent": intent.get("name"),
            "confidence": intent.get("confidence"),
            "entities": list(tracker.get_latest_entity_values("order_id")),
            "slot": tracker.get_slot("order_id"),
            "active_loop": tracker.active_loop_name,
            "last_event": tracker.events[-1]["event"],
            "domain_intents": domain.get("intents"),
        }
        dispatcher.utter_message(image="https://example.com/label.png", json_message={"k": 1})
        return [SlotSet("seen", seen)]
