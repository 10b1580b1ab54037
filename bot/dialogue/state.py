"""What the bot remembers about one conversation between turns.

The state is stored as JSON in the conversation store, so it survives a restart and the
`supportbot handoff` command can change it while the server runs. Stored text is
redacted like every logged turn; slot values that held personal data (an email a form
asked for) are kept raw only in the running process's memory, for as long as the
conversation is active, and stored as their placeholder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

HANDED_OFF = "handed_off"
BOT = "bot"


@dataclass
class ConversationState:
    conversation_id: str
    slots: dict[str, Any] = field(default_factory=dict)
    """Form answers (text) and values custom actions set (any JSON value)."""
    recent_intents: list[str] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    """[{"speaker": "customer" | "bot", "text": ...}], oldest first, redacted."""
    active_form: str | None = None
    requested_slot: str | None = None
    fallbacks: int = 0
    """Consecutive turns the bot could not answer."""
    status: str = BOT
    """"bot", or "handed_off" while a person owns the conversation and the bot is silent."""
    handoff_reason: str | None = None
    updated_at: float = field(default_factory=time.time)

    @property
    def handed_off(self) -> bool:
        return self.status == HANDED_OFF

    def expired(self, now: float, idle_seconds: float) -> bool:
        return now - self.updated_at > idle_seconds

    def reset_after_idle(self) -> None:
        """A conversation picked up after a long pause starts afresh, except that a
        handoff stays until a person releases it."""
        self.slots.clear()
        self.recent_intents.clear()
        self.active_form = self.requested_slot = None
        self.fallbacks = 0

    def remember(self, speaker: str, text: str, keep: int) -> None:
        self.history.append({"speaker": speaker, "text": text})
        del self.history[:-keep]

    def note_intent(self, intent: str, keep: int = 5) -> None:
        self.recent_intents.append(intent)
        del self.recent_intents[:-keep]

    def hand_off(self, reason: str) -> None:
        self.status, self.handoff_reason = HANDED_OFF, reason
        self.active_form = self.requested_slot = None
        self.fallbacks = 0

    def release(self) -> None:
        self.status, self.handoff_reason = BOT, None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready snapshot, its containers copied: the state is written on the store's
        thread while the turn may go on changing it. Hand-copied rather than `asdict`,
        whose general recursion was 3-4 % of the event loop's time under load."""
        return {name: _copied(getattr(self, name)) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversationState:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copied(item) for item in value]
    return value
