"""Quick-reply payloads, as Rasa writes them: `/intent` or `/intent{"slot": "value"}`.

The kernel holds the one parser: training checks that every button's payload maps to
something the bot does, and the runtime reads a click with the same rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

PREFIX = "/"
_PAYLOAD = re.compile(r"^/(?P<name>[^\s{}]+)\s*(?P<slots>\{.*\})?\s*$", re.DOTALL)


@dataclass(frozen=True)
class Payload:
    """A parsed payload: the name it carries and the slots it sets."""

    name: str
    slots: dict[str, Any] = field(default_factory=dict)


class PayloadError(ValueError):
    """A text that starts like a payload but is not one (the slots are not a JSON object)."""


def parse_payload(text: str) -> Payload | None:
    """`/name` or `/name{"slot": "value"}` as a Payload; None for any other text. Raises
    PayloadError when the part in braces is not a JSON object of slot names."""
    match = _PAYLOAD.match(text.strip())
    if match is None:
        return None
    raw = match.group("slots")
    if raw is None:
        return Payload(match.group("name"))
    try:
        slots = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"the slots after the name are not valid JSON: {exc.msg}") from exc
    if not isinstance(slots, dict) or not all(isinstance(key, str) for key in slots):
        raise PayloadError("the slots after the name must be a JSON object")
    return Payload(match.group("name"), slots)


def payload_name(text: str) -> str | None:
    """The name a payload carries (`/freeze_card{"card": "1234"}` -> `freeze_card`), or None
    for text that is not a well-formed payload."""
    try:
        payload = parse_payload(text)
    except PayloadError:
        return None
    return payload.name if payload else None
