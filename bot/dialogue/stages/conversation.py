"""`TrackConversation`: the conversation's memory around the turn.

It loads the state (reset after the idle timeout), keeps a handed-off conversation
silent, and after the turn counts fallbacks, applies a moderation handoff, records the
redacted history and saves.
"""

from __future__ import annotations

import time

from bot import messages
from bot.dialogue.manager import Next
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.handoff.desk import cancels_handoff
from supportbot.turn_actions import ANSWERED


class TrackConversation:
    """Wraps everything after the log and the error boundary (bot/dialogue/pipeline.py)."""

    name = "track_conversation"

    def __init__(self, memory: ConversationMemory):
        self.memory = memory

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        memory = self.memory
        now = time.time()
        state = await memory.load(turn.message.sender_id, now)
        turn.state = state
        try:
            if state.handed_off:
                await _while_handed_off(memory, turn, state)
            elif await memory.desk.survey_answer(state.conversation_id, turn.text):
                turn.action = "survey"
                turn.dispatcher.utter(messages.SURVEY_THANKS)
            else:
                await next_stage()
                await _after_turn(memory, turn, state)
        finally:
            keep = memory.config.history_turns
            state.remember("customer", memory.redact(turn.text), keep)
            for reply in turn.dispatcher.replies:
                state.remember("bot", memory.redact(reply.text), keep)
            await memory.save(state, now)


async def _while_handed_off(
    memory: ConversationMemory, turn: Turn, state: ConversationState
) -> None:
    """The bot stays silent; the message goes to whoever answers, unless the customer,
    still waiting, cancels ("never mind") and gets the bot back."""
    conversation = state.conversation_id
    if cancels_handoff(turn.text) and await memory.desk.cancel(conversation):
        state.release()
        turn.action = "handoff"
        turn.dispatcher.utter(messages.HANDOFF_CANCELLED)
        return
    turn.action = "handed_off"
    await memory.desk.customer_wrote(conversation, turn.text)


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
            reason = f"{state.fallbacks} fallbacks in a row"
            turn.dispatcher.clear()
            await memory.hand_off(turn, state, reason, messages.HANDOFF_AFTER_FALLBACKS)
    elif turn.action in ANSWERED:
        state.fallbacks = 0
