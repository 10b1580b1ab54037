"""Greetings, thanks, goodbyes and "are you a bot?", answered without the intent model.

Only a message that is nothing but small talk is caught here ("hi", "thanks a lot!",
"bye"); "hi, my card is blocked" goes on to the intent model, which answers the question.
"""

from __future__ import annotations

import re
from typing import Literal

from bot import messages

SmallTalk = Literal["greeting", "thanks", "goodbye", "bot_identity"]
"""The kinds of small talk, each a word of supportbot.turn_actions."""

_POLITE = r"(?:\s+(?:so\s+much|a\s+lot|very\s+much|again|there|all|everyone|team|bot))*"
_END = r"\s*[.!?,:)\s]*$"
SMALL_TALK: dict[SmallTalk, re.Pattern[str]] = {
    "greeting": re.compile(
        r"^\s*(?:hi+|hello+|hey+|hiya|howdy|good\s+(?:morning|afternoon|evening)|greetings"
        r"|yo)" + _POLITE + _END,
        re.IGNORECASE,
    ),
    "thanks": re.compile(
        r"^\s*(?:thanks?|thank\s+you|thx|ty|cheers|much\s+appreciated|great,?\s+thanks?)"
        + _POLITE
        + _END,
        re.IGNORECASE,
    ),
    "goodbye": re.compile(
        r"^\s*(?:bye+|goodbye|see\s+you|see\s+ya|that'?s\s+all|have\s+a\s+(?:good|nice)\s+"
        r"(?:day|one|evening))" + _POLITE + _END,
        re.IGNORECASE,
    ),
}
# Not the bot asked about: "are you real estate agents?", "are you live in London?",
# "are you human resources?".
_PERSON_OR_BOT = (
    r"(?:real(?!\s+estate)|live(?!\s+(?:in|at|near|on|around|here|there|nearby)\b)"
    r"|human(?!\s+resources)|person|bot|robot|computer|machine|ai)\b"
)
ASKS_IF_HUMAN = re.compile(
    r"\b(?:are|r)\s+(?:you|u)\s+(?:(?:a|an|really|actually|even|just)\s+)*"
    + _PERSON_OR_BOT
    + r"|\byou(?:'re|re|\s+are|r)\s+(?:(?:a|an|really|actually)\s+)*"
    + _PERSON_OR_BOT
    + r"|\b(?:am\s+i|i'?m|are\s+we)\s+(?:talking|speaking|chatting)\s+(?:to|with)\s+"
    r"(?:(?:a|an|the|real|live|actual)\s+)*(?:human|person|bot|robot|computer|machine)\b"
    r"|\bcould\s+(?:you|u)\s+be\s+(?:a\s+)?(?:real|human|person)\b"
    r"|\b(?:computer|bot|robot|machine)\s+or\s+(?:a\s+)?(?:human|person)\b",
    re.IGNORECASE,
)
"""A question whether the bot is a person ("are you human?", "am I talking to a real
person?"): the customer wants to know, not (yet) to be handed over."""
REPLIES: dict[SmallTalk, str] = {
    "greeting": messages.GREETING,
    "thanks": messages.YOU_ARE_WELCOME,
    "goodbye": messages.GOODBYE,
    "bot_identity": messages.BOT_IDENTITY,
}


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk a whole message is, or None."""
    kind = next((kind for kind, pattern in SMALL_TALK.items() if pattern.match(text)), None)
    if kind is None and asks_if_human(text):
        return "bot_identity"
    return kind


def asks_if_human(text: str) -> bool:
    return bool(ASKS_IF_HUMAN.search(text))
