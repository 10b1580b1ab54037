"""Stages that give turns a memory: conversation state, handoff, forms and small talk.

`track_conversation` wraps the whole turn: it loads the state (resetting it after the
idle timeout), keeps a handed-off conversation silent, and afterwards counts fallbacks,
applies a moderation handoff, records redacted history and saves. `dialogue_rules` runs
after moderation, before the model: a request for a person and an open form's answer need
no intent model. `intent_rules` runs after the model: a confident handoff intent hands
off, one with a form starts asking for its slots, and small talk the model does not
claim (a greeting with no greeting intent) gets a friendly answer.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from bot import messages
from bot.dialogue import forms
from bot.dialogue.manager import Middleware, Next, Turn
from bot.dialogue.small_talk import REPLIES, small_talk
from bot.dialogue.state import ConversationState
from bot.handoff.notifier import HandoffNotifier, asks_for_human
from supportbot.config.dialogue import DialogueConfig

PAYLOAD_PREFIX = "/"
ANSWERED = {"intent_response", "retrieval", "clarify", "form", "action"}


class StateStore(Protocol):
    async def load_state(self, conversation_id: str) -> dict | None: ...

    async def save_state(self, conversation_id: str, state: dict) -> None: ...


class ConversationMemory:
    """Loads and saves states; raw slot values stay in this process only (see module doc
    of bot.dialogue.state), redacted copies go to the store."""

    def __init__(
        self,
        config: DialogueConfig,
        store: StateStore,
        notifier: HandoffNotifier,
        redact: Callable[[str], str],
    ):
        self.config = config
        self.store = store
        self.notifier = notifier
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

    async def hand_off(self, turn: Turn, state: ConversationState, reason: str) -> None:
        state.hand_off(reason)
        turn.action = "handoff"
        transcript = [*state.history, {"speaker": "customer", "text": self.redact(turn.text)}]
        await self.notifier.deliver(state.conversation_id, reason, transcript)


def track_conversation(memory: ConversationMemory) -> Middleware:
    async def stage(turn: Turn, next_stage: Next) -> None:
        now = time.time()
        state = await memory.load(turn.message.sender_id, now)
        turn.state = state
        try:
            if state.handed_off:
                turn.action = "handed_off"
            else:
                await next_stage()
                await _after_turn(memory, turn, state)
        finally:
            keep = memory.config.history_turns
            state.remember("customer", memory.redact(turn.text), keep)
            for reply in turn.dispatcher.replies:
                state.remember("bot", memory.redact(reply.text), keep)
            await memory.save(state, now)

    return stage


async def _after_turn(memory: ConversationMemory, turn: Turn, state: ConversationState) -> None:
    prediction = turn.analysis.prediction if turn.analysis else None
    if prediction is not None and not prediction.out_of_scope:
        state.note_intent(prediction.intent)
    if turn.moderation is not None and turn.moderation.action == "handoff":
        await memory.hand_off(turn, state, f"moderation: {turn.moderation.rule}")
        turn.action = "handoff"
    elif turn.action == "fallback":
        state.fallbacks += 1
        if state.fallbacks >= memory.config.handoff.after_fallbacks:
            await memory.hand_off(turn, state, f"{state.fallbacks} fallbacks in a row")
            turn.dispatcher.clear()
            turn.dispatcher.utter(messages.HANDOFF_AFTER_FALLBACKS)
    elif turn.action in ANSWERED:
        state.fallbacks = 0


def dialogue_rules(memory: ConversationMemory) -> Middleware:
    async def stage(turn: Turn, next_stage: Next) -> None:
        state = turn.state
        if state is None:
            await next_stage()
            return
        form = memory.config.form_for(state.active_form) if state.active_form else None
        if asks_for_human(turn.text):
            await memory.hand_off(turn, state, "customer asked")
            turn.dispatcher.utter(messages.HANDOFF_CONFIRMED)
        elif form is not None:
            _utter_form(turn, forms.answer(form, state, turn.text))
        else:
            await next_stage()

    return stage


def intent_rules(memory: ConversationMemory) -> Middleware:
    """A confident handoff intent hands off; one with a form starts asking for its slots.
    Small talk is answered here only when no intent is confident, so a bot's own greeting
    intent and its responses win."""

    async def stage(turn: Turn, next_stage: Next) -> None:
        intent = confident_intent(turn) if turn.state else None
        form = memory.config.form_for(intent) if intent else None
        kind = small_talk(turn.text) if intent is None else None
        if intent in memory.config.handoff.intents:
            await memory.hand_off(turn, turn.state, f"intent {intent}")
            turn.dispatcher.utter(messages.HANDOFF_CONFIRMED)
        elif form is not None:
            _utter_form(turn, forms.start(form, turn.state))
        elif kind is not None:
            turn.action = kind
            turn.dispatcher.utter(REPLIES[kind])
        else:
            await next_stage()

    return stage


def confident_intent(turn: Turn) -> str | None:
    """The intent a quick-reply payload names, or the model's when neither out of scope
    nor ambiguous."""
    if turn.text.startswith(PAYLOAD_PREFIX):
        return turn.text[len(PAYLOAD_PREFIX) :]
    prediction = turn.analysis.prediction if turn.analysis else None
    if prediction is None or prediction.out_of_scope or prediction.ambiguous:
        return None
    return prediction.intent


def _utter_form(turn: Turn, reply: forms.FormReply) -> None:
    turn.action = "form"
    if reply.text:
        turn.dispatcher.utter(reply.text, reply.buttons)
    turn.requested_action = reply.action
