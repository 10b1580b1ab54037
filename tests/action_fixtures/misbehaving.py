"""Actions that go wrong in each way a runner must survive."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection

SLOW_SECONDS = 3.0


class RejectWithoutOrder(Action):
    def name(self) -> str:
        return "action_validate_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        raise ActionExecutionRejection(self.name(), "order number missing")


class SlowAsync(Action):
    def name(self) -> str:
        return "action_slow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        await asyncio.sleep(SLOW_SECONDS)
        dispatcher.utter_message(text="finally")
        return []


class SlowSync(Action):
    def name(self) -> str:
        return "action_slow_sync"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        time.sleep(1.0)
        return []


class Crash(Action):
    def name(self) -> str:
        return "action_crash"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        raise ValueError("card 4111 1111 1111 1111 declined")


class OddEvents(Action):
    """Returns an event this bot does not act on, a malformed one, and a good one."""

    def name(self) -> str:
        return "action_odd_events"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [
            {"event": "reminder", "intent": "remind", "date_time": "2030-01-01T00:00:00"},
            {"event": "slot", "value": "no name"},
            FollowupAction("action_check_order"),
            SlotSet("ok", True),
        ]
