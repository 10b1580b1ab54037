"""Who can take a handed-off conversation: the desk the dialogue asks before it goes silent.

A handoff is accepted only when a person can actually answer (an agent signed in to the
console, bot/agents/desk.py, or an external desk that acknowledged the webhook). Otherwise
the customer is told when the team is open and how else to reach it, and the bot keeps
answering: a handoff never strands a customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot import messages
from bot.handoff.notifier import HandoffNotifier
from supportbot.config.dialogue import WEEKDAYS, HandoffConfig, OpeningHours

CANCELS_HANDOFF = re.compile(
    r"^\s*(?:never\s*mind|nevermind|cancel(?:\s+that)?|forget\s+it|no\s+thanks?|nvm)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class HandoffRequest:
    conversation_id: str
    channel: str
    reason: str
    transcript: list[dict[str, Any]]
    """Redacted, oldest first, ending with the message that asked."""
    summary: dict[str, Any] = field(default_factory=dict)
    """What the bot learnt: intents seen, form slots (redacted), the last customer message."""


@dataclass(frozen=True)
class HandoffOutcome:
    accepted: bool
    """True: a person will answer and the bot goes silent."""
    notice: str | None = None
    """A line for the customer: their place in the queue, or (declined) the alternative."""


class HandoffDesk(Protocol):
    async def request(self, request: HandoffRequest) -> HandoffOutcome: ...

    async def customer_wrote(self, conversation_id: str, text: str) -> None:
        """A message of a handed-off conversation, for whoever answers it (held in memory)."""

    async def cancel(self, conversation_id: str) -> bool:
        """The waiting customer changed their mind; True when the bot has them back."""

    async def survey_answer(self, conversation_id: str, text: str) -> bool:
        """True when `text` answered the 1-5 rating an agent asked for (it is stored)."""

    async def close(self) -> None: ...


def cancels_handoff(text: str) -> bool:
    return bool(CANCELS_HANDOFF.match(text))


def unavailable_notice(config: HandoffConfig, now: datetime | None = None) -> str:
    """What a customer nobody can take now is told: the hours and the alternative."""
    parts = [messages.HANDOFF_UNAVAILABLE]
    if config.hours is not None:
        parts.append(messages.HANDOFF_HOURS.format(hours=describe_hours(config.hours)))
        if is_open(config.hours, now):
            parts[0] = messages.HANDOFF_BUSY
    if config.alternative:
        parts.append(messages.HANDOFF_ALTERNATIVE.format(alternative=config.alternative))
    parts.append(messages.HANDOFF_BOT_CONTINUES)
    return " ".join(parts)


def describe_hours(hours: OpeningHours) -> str:
    days = [day for day in WEEKDAYS if day in hours.days]
    named = (
        f"{days[0].capitalize()}-{days[-1].capitalize()}"
        if _consecutive(days)
        else ", ".join(day.capitalize() for day in days)
    )
    return f"{named} {hours.open}-{hours.close} ({hours.timezone})"


def _consecutive(days: Sequence[str]) -> bool:
    indexes = [WEEKDAYS.index(day) for day in days]
    return len(days) > 2 and indexes == list(range(indexes[0], indexes[0] + len(days)))


def is_open(hours: OpeningHours, now: datetime | None = None) -> bool:
    local = (now or datetime.now(tz=ZoneInfo("UTC"))).astimezone(ZoneInfo(hours.timezone))
    clock = local.strftime("%H:%M")
    return WEEKDAYS[local.weekday()] in hours.days and hours.open <= clock < hours.close


class WebhookDesk:
    """The desk without the console (`supportbot chat`, tests): accepted when `staffed()`
    says a person is there or the webhook acknowledged the handoff."""

    def __init__(self, notifier: HandoffNotifier, config: HandoffConfig, staffed=lambda: False):
        self.notifier = notifier
        self.config = config
        self.staffed = staffed

    async def request(self, request: HandoffRequest) -> HandoffOutcome:
        delivered = await self.notifier.deliver(
            request.conversation_id, request.reason, request.transcript
        )
        if delivered or self.staffed():
            return HandoffOutcome(True)
        return HandoffOutcome(False, unavailable_notice(self.config))

    async def customer_wrote(self, conversation_id: str, text: str) -> None:
        return None

    async def cancel(self, conversation_id: str) -> bool:
        return False

    async def survey_answer(self, conversation_id: str, text: str) -> bool:
        return False

    async def close(self) -> None:
        await self.notifier.close()
