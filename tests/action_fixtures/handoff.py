"""A handoff: pause the bot, then a followup action confirms it to the customer."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationPaused, FollowupAction
from rasa_sdk.executor import CollectingDispatcher


class Handoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return [ActiveLoop(None), ConversationPaused(), FollowupAction("action_confirm_handoff")]


class ConfirmHandoff(Action):
    def name(self) -> str:
        return "action_confirm_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="A colleague will take it from here.")
        return []
