"""Greetings, thanks and goodbyes, answered without the intent model.

Only a message that is nothing but small talk is caught here ("hi", "thanks a lot!",
"bye"); "hi, my card is blocked" goes on to the intent model, which answers the question.
"""

from __future__ import annotations

import re

from bot import messages

_POLITE = r"(?:\s+(?:so\s+much|a\s+lot|very\s+much|again|there|all|everyone|team|bot))*"
_END = r"\s*[.!?,:)\s]*$"
SMALL_TALK = {
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
REPLIES = {
    "greeting": messages.GREETING,
    "thanks": messages.YOU_ARE_WELCOME,
    "goodbye": messages.GOODBYE,
}


def small_talk(text: str) -> str | None:
    """The kind of small talk a whole message is, or None."""
    return next((kind for kind, pattern in SMALL_TALK.items() if pattern.match(text)), None)
