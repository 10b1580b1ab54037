"""What a conversation remembers between turns: its state loaded before a turn and saved
after, and the handoff to a person.

Raw slot values stay in this process only (see bot.dialogue.state); the store keeps
redacted copies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.handoff.desk import HandoffDesk, HandoffOutcome, HandoffRequest, WebhookDesk
from bot.handoff.notifier import HandoffNotifier
from supportbot.config.dialogue import DialogueConfig


class StateStore(Protocol):
    """Where conversation states are kept between turns (bot/store/state_store.py)."""

    async def load_state(self, conversation_id: str) -> dict | None: ...

    async def save_state(self, conversation_id: str, state: dict) -> None: ...

    async def close(self) -> None: ...


class HandoffStates(StateStore, Protocol):
    """A state store that also answers who owns each conversation: what the admin
    endpoints and the channels' handoff notices read (bot/store/state_store.py)."""

    async def set_handoff(self, conversation_id: str, take: bool) -> bool: ...

    async def handed_off(self) -> list[dict[str, Any]]: ...


class ConversationMemory:
    """Loads and saves states; raw slot values stay in this process only (see module doc
    of bot.dialogue.state), redacted copies go to the store."""

    def __init__(
        self,
        config: DialogueConfig,
        store: StateStore,
        desk: HandoffDesk | HandoffNotifier,
        redact: Callable[[str], str],
    ):
        """`desk` decides whether a person takes a handoff (bot/handoff/desk.py). A bare
        notifier is the embedder's older contract: its team is always there to answer."""
        self.config = config
        self.store = store
        if isinstance(desk, HandoffNotifier):
            desk = WebhookDesk(desk, config.handoff, staffed=lambda: True)
        self.desk: HandoffDesk = desk
        self.redact = redact
        self._raw_slots: dict[str, tuple[float, dict[str, str]]] = {}

    async def load(self, conversation_id: str, now: float) -> ConversationState:
        stored = await self.store.load_state(conversation_id)
        state = (
            ConversationState.from_json(stored) if stored else ConversationState(conversation_id)
        )
        raw = self._raw_slots.pop(conversation_id, None)
        if raw is not None:
            state.slots.update(raw[1])
        if state.expired(now, self.config.idle_timeout_minutes * 60):
            state.reset_after_idle()
        return state

    async def save(self, state: ConversationState, now: float) -> None:
        state.updated_at = now
        if state.slots:
            self._raw_slots[state.conversation_id] = (now, dict(state.slots))
        self._forget_idle(now)
        stored = state.to_json()
        stored["slots"] = {name: self._redacted(value) for name, value in state.slots.items()}
        await self.store.save_state(state.conversation_id, stored)

    def _redacted(self, value: Any) -> str:
        """A custom action may set any JSON value; it is stored as redacted JSON text."""
        return self.redact(value if isinstance(value, str) else json.dumps(value, default=str))

    def _forget_idle(self, now: float) -> None:
        idle = self.config.idle_timeout_minutes * 60
        for conversation_id in [c for c, (t, _) in self._raw_slots.items() if now - t > idle]:
            del self._raw_slots[conversation_id]

    async def hand_off(
        self, turn: Turn, state: ConversationState, reason: str, confirm: str | None = None
    ) -> HandoffOutcome:
        """Ask the desk; the bot goes silent only when a person will answer (then `confirm`
        is said), otherwise the customer hears the alternative and the bot keeps answering."""
        turn.action = "handoff"
        turn.metadata["handoff_reason"] = reason  # the log's record of why (analytics)
        last = self.redact(turn.text)
        transcript = [*state.history, {"speaker": "customer", "text": last}]
        summary = {
            "intents": list(state.recent_intents),
            "slots": {name: self._redacted(value) for name, value in state.slots.items()},
            "last_customer_message": last,
        }
        request = HandoffRequest(
            state.conversation_id, turn.message.channel, reason, transcript, summary
        )
        outcome = await self.desk.request(request)
        if outcome.accepted:
            state.hand_off(reason)
            if confirm:
                turn.dispatcher.utter(confirm)
        else:
            state.fallbacks = 0
        if outcome.notice:
            turn.dispatcher.utter(outcome.notice)
        return outcome
