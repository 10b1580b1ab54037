"""Per-sender limits that need memory across turns: a message rate limit, damping of
repeated identical messages, and insult strikes that end in a handoff.

State lives in process memory, bounded to the most recently seen senders, so a flood of
new sender ids cannot grow it without limit. One event loop drives it: no locks.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from supportbot.config.moderation import ModerationConfig


@dataclass
class _SenderState:
    accepted: deque[float] = field(default_factory=deque)
    strikes: deque[float] = field(default_factory=deque)
    last_text: str | None = None
    last_at: float = 0.0
    repeats: int = 0


class SenderGuard:
    """Sliding-window counters per sender; `clock` is injectable for tests."""

    def __init__(
        self, config: ModerationConfig | None = None, clock: Callable[[], float] = time.monotonic
    ):
        self.config = config or ModerationConfig()
        self.clock = clock
        self._senders: OrderedDict[str, _SenderState] = OrderedDict()

    def _state(self, sender_id: str) -> _SenderState:
        state = self._senders.pop(sender_id, None) or _SenderState()
        self._senders[sender_id] = state
        while len(self._senders) > self.config.max_tracked_senders:
            self._senders.popitem(last=False)
        return state

    def admit(self, sender_id: str, limit: int | None = None) -> float | None:
        """Count a message against the rate limit (`limit`, default the per-sender one):
        None if admitted, else seconds to wait."""
        now, window = self.clock(), self.config.rate_limit_seconds
        accepted = self._state(sender_id).accepted
        _expire(accepted, now - window)
        if len(accepted) >= (limit or self.config.rate_limit_messages):
            return round(accepted[0] + window - now, 3)
        accepted.append(now)
        return None

    def repeat_count(self, sender_id: str, text: str) -> int:
        """How many times in a row this sender has sent this text within the repeat window."""
        now, state = self.clock(), self._state(sender_id)
        key = text.casefold()
        recent = now - state.last_at <= self.config.repeat_window_seconds
        state.repeats = state.repeats + 1 if recent and key == state.last_text else 1
        state.last_text, state.last_at = key, now
        return state.repeats

    def strike(self, sender_id: str) -> int:
        """Record an insult; returns the sender's insults within the strike window."""
        now, strikes = self.clock(), self._state(sender_id).strikes
        _expire(strikes, now - self.config.strike_window_seconds)
        strikes.append(now)
        return len(strikes)


def _expire(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
