"""First-pass moderation of inbound text and redaction of personal data before logging.

Pure functions, no I/O. The bar for blocking is low on purpose: an angry customer still
gets help, so only insults aimed at the bot warn, and injection attempts are flagged but
answered like any other message (they are never executed).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE = re.compile(f"[{ZERO_WIDTH}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_WHITESPACE = re.compile(r"\s+")

_TARGET = r"(?:bot|robot|chatbot|ai|assistant|agent)"
_INSULT = (
    r"(?:useless|stupid|dumb|idiot|idiotic|moron|moronic|pathetic|worthless|incompetent"
    r"|clueless|garbage|trash|rubbish|a joke)"
)
_INTENSIFIER = (
    r"(?:so|such|really|completely|totally|utterly|fucking|bloody|f\*+ing|an?|the|absolute"
    r"|complete|total)"
)
ABUSE = re.compile(
    "|".join(
        [
            rf"\byou(?:'re|\s+are|r|\s+r)?\s+(?:{_INTENSIFIER}\s+)*{_INSULT}\b",
            rf"\b{_INSULT}\s+{_TARGET}\b",
            r"\b(?:f+[u*]*[c*]*[k*]+|f\*+|screw)\s+(?:you|u|off)\b",
            r"\bshut\s+up\b",
        ]
    ),
    re.IGNORECASE,
)
INJECTION = re.compile(
    "|".join(
        [
            r"\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
            r"(?:previous|prior|above|earlier|preceding)\s+(?:instructions|prompts?|rules)\b",
            r"<\s*/?\s*system\s*>",
            r"\[\s*/?\s*system\s*\]",
        ]
    ),
    re.IGNORECASE,
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<!\d)(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![ -]?\d)")
_ISO_DATE = r"\d{4}-\d\d-\d\d(?!\d)"
_PHONE = re.compile(
    rf"(?<![\w+])(?<!\d[ .-])(?!{_ISO_DATE})"
    r"\+?\(?\d(?:[ .()-]{0,2}\d){7,14}(?![ .()-]{0,2}\d)"
)


def normalise_text(text: str) -> str:
    """One canonical form, so look-alike and invisible characters cannot dodge the rules."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub("", text)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class ModerationVerdict:
    """What to do with a message, which rule decided it, and the normalised text."""

    action: Literal["allow", "warn", "block"]
    rule: str | None
    text: str


def check_message(text: str, max_chars: int = 2000) -> ModerationVerdict:
    """Judge one inbound message. Rules are checked in order; the first that fires wins."""
    clean = normalise_text(text)
    if not clean:
        return ModerationVerdict("block", "empty", clean)
    if len(clean) > max_chars:
        return ModerationVerdict("block", "too_long", clean)
    if ABUSE.search(clean):
        return ModerationVerdict("warn", "abuse", clean)
    if INJECTION.search(clean):
        return ModerationVerdict("allow", "injection_flagged", clean)
    return ModerationVerdict("allow", None, clean)


def luhn_valid(digits: str) -> bool:
    """The card-number checksum; keeps order numbers and the like out of the <CARD> rule."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _redact_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "<CARD>" if luhn_valid(digits) else match.group()


def redact(text: str) -> str:
    """Mask emails, Luhn-valid card numbers and phone numbers before text reaches a log.

    Pass normalised text: a zero-width character inside a number would hide it from these rules.
    """
    text = _EMAIL.sub("<EMAIL>", text)
    text = _CARD.sub(_redact_card, text)
    return _PHONE.sub("<PHONE>", text)
