"""`FollowUps`: a follow-up that is ambiguous alone is read with the conversation so far.

"it's been over two weeks now and still nothing" means nothing without "my card has not
arrived" before it, and "how long will it take to get there?" after a question about
sending money abroad is about the transfer, not card delivery. A message that reads as a
follow-up (it points back: "it", "that", "there", "still", "again", or starts with
"and"), or that the model is not confident about alone, is analysed again with the
previous customer turn in front of it; the reading with context wins when it is
confident and in scope, and the message alone is not, or points back.
"""

from __future__ import annotations

import re

from bot.dialogue.manager import Next
from bot.dialogue.small_talk import small_talk
from bot.dialogue.stages.analysis import Analyse
from bot.dialogue.turn import Turn, chosen_by_click
from retrieval.bot_model import Analysis

POINTS_BACK = re.compile(
    r"^\s*(?:and|but|also|so|what\s+about|how\s+about|what\s+if)\b"
    r"|\b(?:it|it'?s|its|that|this|there|they|them|those|these|one|again|still|yet|anymore)\b",
    re.IGNORECASE,
)
MAX_FOLLOW_UP_WORDS = 14
"""A longer message says what it is about on its own."""


def points_back(text: str) -> bool:
    """Whether a short message refers to something said before ("and how much is it?")."""
    return len(text.split()) <= MAX_FOLLOW_UP_WORDS and bool(POINTS_BACK.search(text))


def confident(analysis: Analysis | None) -> bool:
    prediction = analysis.prediction if analysis else None
    return prediction is not None and not prediction.out_of_scope and not prediction.ambiguous


def with_context(previous: str, text: str) -> str:
    """The text the model reads for a follow-up: the customer's previous turn, then it."""
    return f"{previous.rstrip(' .!?')}. {text}"


class FollowUps:
    """Runs after `Understand`, before the intent rules, with a conversation memory."""

    name = "follow_ups"

    def __init__(self, analyse: Analyse):
        self.analyse = analyse

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        previous = _previous_question(turn)
        follow_up = points_back(turn.text)
        if previous is not None and (follow_up or not confident(turn.analysis)):
            in_context = await self.analyse(with_context(previous, turn.text))
            if confident(in_context) and (follow_up or not confident(turn.analysis)):
                turn.analysis = in_context
                turn.metadata["read_with_previous_turn"] = True
        await next_stage()


def _previous_question(turn: Turn) -> str | None:
    """The customer's last turn that asked something (not a click, not small talk), when
    this turn is typed text the conversation has a before for."""
    if turn.state is None or chosen_by_click(turn) is not None or small_talk(turn.text):
        return None
    for entry in reversed(turn.state.history):
        text = entry["text"]
        if entry["speaker"] == "customer" and not text.startswith("/") and not small_talk(text):
            return text
    return None
