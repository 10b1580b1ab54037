"""`DialogueRules` and `IntentRules`: what the bot answers by rule rather than by model.

`DialogueRules` runs after moderation, before the model: a request for a person and an
open form's answer need no intent model. `IntentRules` runs after the model: a confident
handoff intent hands off, one with a form starts asking for its slots, and small talk the
model does not claim (a greeting with no greeting intent) gets a friendly answer.
"""

from __future__ import annotations

from bot import messages
from bot.channels.base import QuickReply
from bot.dialogue import forms
from bot.dialogue.manager import Next
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.small_talk import REPLIES, SmallTalk, small_talk
from bot.dialogue.turn import HANDOFF_PAYLOAD, Turn, chosen_by_click
from bot.handoff.notifier import asks_for_human


class DialogueRules:
    """A request for a person hands off; an open form takes the message as its answer."""

    name = "dialogue_rules"

    def __init__(self, memory: ConversationMemory):
        self.memory = memory

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        state = turn.state
        if state is None:
            await next_stage()
            return
        memory = self.memory
        form = memory.config.form_for(state.active_form) if state.active_form else None
        if asks_for_human(turn.text):
            await memory.hand_off(turn, state, "customer asked", messages.HANDOFF_CONFIRMED)
        elif form is not None:
            _utter_form(turn, forms.answer(form, state, turn.text))
        else:
            await next_stage()


class IntentRules:
    """A confident handoff intent hands off; one with a form starts asking for its slots.
    Small talk is answered here only when no intent is confident, so a bot's own greeting
    intent and its responses win."""

    name = "intent_rules"

    def __init__(self, memory: ConversationMemory):
        self.memory = memory

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        memory = self.memory
        intent = confident_intent(turn) if turn.state else None
        form = memory.config.form_for(intent) if intent else None
        kind = _small_talk(turn, intent, memory.config.handoff.intents)
        if intent in memory.config.handoff.intents and turn.state is not None:
            await memory.hand_off(turn, turn.state, f"intent {intent}", messages.HANDOFF_CONFIRMED)
        elif form is not None and turn.state is not None:
            _utter_form(turn, forms.start(form, turn.state))
        elif kind is not None:
            turn.action = kind
            turn.dispatcher.utter(REPLIES[kind], menu_buttons(memory) if kind == "menu" else ())
        else:
            await next_stage()


def _small_talk(turn: Turn, intent: str | None, handoff: list[str]) -> SmallTalk | None:
    """Small talk the model does not claim; a vague opener ("I need help") and "are you
    still there?" say nothing a trained intent could answer, so they win over any but a
    handoff intent."""
    kind = small_talk(turn.text)
    if kind in OVER_THE_MODEL and chosen_by_click(turn) is None:
        return kind if intent not in handoff else None
    return kind if intent is None else None


OVER_THE_MODEL = ("menu", "still_there")


def menu_buttons(memory: ConversationMemory) -> tuple[QuickReply, ...]:
    """The configured menu, then a way to a person: a vague opener gets somewhere in one click."""
    items = [QuickReply(item.title, item.payload) for item in memory.config.menu]
    return (*items, QuickReply(messages.MENU_HUMAN_BUTTON, HANDOFF_PAYLOAD))


def confident_intent(turn: Turn) -> str | None:
    """The intent a quick-reply payload names, or the model's when neither out of scope
    nor ambiguous."""
    chosen = chosen_by_click(turn)
    if chosen is not None:
        return chosen
    prediction = turn.analysis.prediction if turn.analysis else None
    if prediction is None or prediction.out_of_scope or prediction.ambiguous:
        return None
    return prediction.intent


def _utter_form(turn: Turn, reply: forms.FormReply) -> None:
    turn.action = "form"
    if reply.text:
        turn.dispatcher.utter(reply.text, reply.buttons)
    turn.requested_action = reply.action
