"""Text conventions the response ranker was trained with, shared by training and serving.

A context is the last few turns, oldest first, each tagged with its speaker
(`[customer] ... [agent] ... [customer] ...`), so the encoder sees who said what. Training
and serving must format it identically, which is why this lives in one place.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SPEAKERS = ("customer", "agent")
DEFAULT_CONTEXT_TURNS = 3
_TURN = re.compile(r"\[(customer|agent)\] ")
_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_WORD = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ContextTurn:
    """One earlier turn of a conversation, as the ranker sees it."""

    speaker: str
    text: str


def as_context_turns(context: Sequence[object]) -> list[ContextTurn]:
    """Accept turns as ContextTurn, (speaker, text) pairs, objects with .speaker/.text, or
    plain strings. Plain strings alternate speakers backwards from the customer, because
    the ranker is asked for a reply to the customer's latest message."""
    turns = []
    for position, item in enumerate(context):
        if isinstance(item, str):
            from_end = len(context) - 1 - position
            turns.append(ContextTurn(SPEAKERS[from_end % 2], item))
        elif isinstance(item, tuple | list) and len(item) == 2:
            turns.append(ContextTurn(_speaker(item[0]), str(item[1])))
        elif hasattr(item, "speaker") and hasattr(item, "text"):
            turns.append(ContextTurn(_speaker(item.speaker), str(item.text)))
        else:
            raise TypeError(f"context[{position}]: expected a turn or a string, got {item!r}")
    return turns


def _speaker(value: object) -> str:
    if value not in SPEAKERS:
        raise ValueError(f"speaker: expected 'customer' or 'agent', got {value!r}")
    return str(value)


def format_context(context: Sequence[object], turns: int = DEFAULT_CONTEXT_TURNS) -> str:
    """The last `turns` turns, speaker-tagged, oldest first: the ranker's context text."""
    recent = as_context_turns(context)[-turns:] if turns > 0 else []
    return " ".join(f"[{t.speaker}] {_SPACES.sub(' ', t.text).strip()}" for t in recent)


def split_context(context: str) -> list[tuple[str, str]]:
    """(speaker, text) of each turn of a formatted context, oldest first."""
    parts = _TURN.split(context)[1:]
    return list(zip(parts[::2], (text.strip() for text in parts[1::2]), strict=False))


def last_turns(context: str, turns: int) -> str:
    """A formatted context cut to its last `turns` turns, formatted as `format_context`
    would have: the parts of the ranker that read fewer turns than the window get the
    same text they were trained on."""
    return format_context(split_context(context), turns)


def reply_key(text: str) -> str:
    """Case, punctuation and spacing removed: replies equal under this are one answer."""
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text.lower())).strip()


def template_slots(text: str) -> list[str]:
    """Names of `{slot}` placeholders a response template needs filled from the state."""
    return list(dict.fromkeys(_SLOT.findall(text)))


def fill_template(text: str, state: Mapping[str, object]) -> str | None:
    """The template with every slot filled from `state`, or None when a value is missing:
    a reply is never sent with a hole or with a value taken from somewhere else."""
    values = {}
    for name in template_slots(text):
        value = state.get(name)
        if value is None or not str(value).strip():
            return None
        values[name] = str(value).strip()
    return _SLOT.sub(lambda match: values[match.group(1)], text)


def embedding_text(template: str) -> str:
    """What the encoder sees for a template: each slot as its name (`{city}` -> `city`)."""
    return _SLOT.sub(lambda match: match.group(1).replace("_", " "), template)
