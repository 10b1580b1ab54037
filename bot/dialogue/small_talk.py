"""Greetings, thanks, goodbyes, "are you a bot?", "are you still there?" and vague openers
("I need help"), answered without the intent model.

Only a message that is nothing but small talk is caught here ("hi", "thanks a lot!",
"thanks, bye", "I need help"); "hi, my card is blocked" goes on to the intent model,
which answers the question. A vague opener gets the menu (`dialogue.menu`), not a
request to rephrase, so it never counts towards a handoff.
"""

from __future__ import annotations

import re
from typing import Literal

from bot import messages

SmallTalk = Literal["greeting", "thanks", "goodbye", "bot_identity", "still_there", "menu"]
"""The kinds of small talk, each a word of supportbot.turn_actions."""

_POLITE = r"(?:\s+(?:so\s+much|a\s+lot|very\s+much|again|there|all|everyone|team|bot))*"
_END = r"\s*[.!?,:)\s]*$"
_GREETING = r"(?:hi+|hello+|hey+|hiya|howdy|good\s+(?:morning|afternoon|evening)|greetings|yo)"
_THANKS = (
    r"(?:(?:ok(?:ay)?|great|perfect|brilliant|lovely|awesome|cool|fine|alright|right|got\s+it)"
    r"[,.!\s]+)?(?:thanks?|thank\s+you|thx|ty|cheers|much\s+appreciated)" + _POLITE
)
_GOODBYE = (
    r"(?:bye+(?:\s*bye)?|goodbye|good\s*bye|see\s+you(?:\s+later)?|see\s+ya|later|ciao"
    r"|that'?s\s+(?:all|it|everything)(?:\s+(?:for\s+now|for\s+today|i\s+needed))?"
    r"|have\s+a\s+(?:good|nice|great)\s+(?:day|one|evening|weekend)|take\s+care)"
)
_PLEASE = r"(?:[,\s]+please)?"
_HELP = (
    r"(?:(?:i|we)\s+(?:need|want|would\s+like|'?d\s+like)\s+(?:some\s+)?(?:help|assistance|support)"
    r"|(?:can|could)\s+(?:you|u|someone|anyone)\s+help(?:\s+me)?(?:\s+with\s+something)?"
    r"|help(?:\s+me)?|i\s+(?:have|'?ve\s+got|got)\s+(?:a\s+)?(?:question|problem|issue|query)"
    r"|i\s+(?:have|'?ve\s+got)\s+(?:some\s+)?(?:questions|problems|issues)"
    r"|i\s+need\s+(?:to\s+ask\s+)?something|menu|options|what\s+can\s+you\s+do"
    r"|what\s+can\s+you\s+help\s+(?:me\s+)?with)"
)
_STILL_THERE = (
    r"(?:(?:are|r)\s+(?:you|u)\s+(?:still\s+)?there|(?:is\s+)?any\s*(?:one|body)\s+there"
    r"|(?:is\s+)?(?:some\s*one|some\s*body)\s+there|hello+\s*\?+|are\s+you\s+(?:still\s+)?(?:with\s+me|awake)"
    r"|you\s+still\s+there)"
)
_OPENER = r"^\s*(?:" + _GREETING + _POLITE + r"[,.!\s]+)?"
SMALL_TALK: dict[SmallTalk, re.Pattern[str]] = {
    "still_there": re.compile(_OPENER + _STILL_THERE + _END, re.IGNORECASE),
    "greeting": re.compile(r"^\s*" + _GREETING + _POLITE + _END, re.IGNORECASE),
    "goodbye": re.compile(
        r"^\s*(?:"
        + _THANKS
        + r"[,.!\s]+(?:and\s+)?)?"
        + _GOODBYE
        + _POLITE
        + r"(?:[,.!\s]+(?:and\s+)?"
        + _THANKS
        + r")?"
        + _END,
        re.IGNORECASE,
    ),
    "thanks": re.compile(r"^\s*" + _THANKS + _END, re.IGNORECASE),
    "menu": re.compile(_OPENER + _HELP + _PLEASE + _END, re.IGNORECASE),
}
"""Checked in order: "hello?" asks whether anyone is there, "thanks, bye" is a goodbye."""
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
    "still_there": messages.STILL_HERE,
    "menu": messages.MENU,
}


def small_talk(text: str) -> SmallTalk | None:
    """The kind of small talk a whole message is, or None."""
    kind = next((kind for kind, pattern in SMALL_TALK.items() if pattern.match(text)), None)
    if kind is None and asks_if_human(text):
        return "bot_identity"
    return kind


def asks_if_human(text: str) -> bool:
    return bool(ASKS_IF_HUMAN.search(text))
