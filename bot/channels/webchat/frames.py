"""What the widget may send, checked field by field before anything acts on it.

A bad frame or body is answered with an error that names the field; it never reaches the
dialogue manager, and it never closes the socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.server.http_errors import RequestError
from bot.server.json_input import bounded_integer, loads_checked

FEEDBACK_VALUES = {"up": 1, "down": -1}
FRAME_TYPES = ("hello", "message", "feedback", "ping")
MAX_TOKEN_CHARS = 200
MAX_CLIENT_ID_CHARS = 64


class FrameError(Exception):
    """A client mistake; `reason` names the field and is safe to send back."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Hello:
    token: str | None


@dataclass(frozen=True)
class Message:
    text: str
    client_id: str | None = None
    """Echoed in the turn, so the tab that sent it does not show the message twice."""


@dataclass(frozen=True)
class Feedback:
    turn_id: int
    value: int


@dataclass(frozen=True)
class Ping:
    pass


Frame = Hello | Message | Feedback | Ping


def decode_object(raw: str | bytes, what: str = "frame") -> dict[str, Any]:
    try:
        payload = loads_checked(raw, what)
    except RequestError as exc:
        raise FrameError(exc.reason) from None
    if not isinstance(payload, dict):
        raise FrameError(f"{what} must be a JSON object")
    return payload


def parse_frame(raw: str, max_chars: int) -> Frame:
    payload = decode_object(raw)
    kind = payload.get("type")
    if kind not in FRAME_TYPES:
        raise FrameError(f'field "type" must be one of: {", ".join(FRAME_TYPES)}')
    if kind == "hello":
        return Hello(_optional_string(payload, "token", MAX_TOKEN_CHARS))
    if kind == "message":
        return parse_message(payload, max_chars)
    if kind == "feedback":
        return parse_feedback(payload)
    return Ping()


def parse_message(payload: dict[str, Any], max_chars: int) -> Message:
    text = payload.get("text")
    if not isinstance(text, str):
        raise FrameError('field "text" is required and must be a string')
    if not text.strip():
        raise FrameError('field "text" is empty')
    if len(text) > max_chars:
        raise FrameError(f'field "text" is longer than {max_chars} characters')
    return Message(text, _optional_string(payload, "client_id", MAX_CLIENT_ID_CHARS))


def parse_feedback(payload: dict[str, Any]) -> Feedback:
    turn_id = payload.get("turn_id")
    if not bounded_integer(turn_id) or turn_id < 1:
        raise FrameError('field "turn_id" is required and must be a positive integer')
    value = payload.get("value")
    if not isinstance(value, str) or value not in FEEDBACK_VALUES:
        raise FrameError('field "value" must be "up" or "down"')
    return Feedback(turn_id, FEEDBACK_VALUES[value])


def _optional_string(payload: dict[str, Any], name: str, max_chars: int) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FrameError(f'field "{name}" must be a string')
    if len(value) > max_chars:
        raise FrameError(f'field "{name}" is longer than {max_chars} characters')
    return value
