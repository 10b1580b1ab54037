"""The `dialogue` section of supportbot.yml: forms, idle expiry and human handoff.

Training copies the whole config into the model's manifest, so a served model carries
the dialogue rules it was trained with; nothing else has to be deployed beside it.
"""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from supportbot.config.base import Strict

SLOT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SlotSpec(Strict):
    """One value a form asks for, with the question and how an answer is checked."""

    name: str
    question: str
    kind: Literal["text", "email", "phone", "number", "choice", "pattern"] = "text"
    choices: list[str] = Field(default_factory=list)
    """For kind `choice`: the accepted answers, also shown as quick-reply buttons."""
    pattern: str | None = None
    """For kind `pattern`: a regular expression the whole answer must match."""
    invalid: str | None = None
    """What to say when an answer does not pass; a sensible default per kind otherwise."""

    @field_validator("name")
    @classmethod
    def _slot_name(cls, name: str) -> str:
        if not SLOT_NAME.match(name):
            raise ValueError("expected lower-case letters, digits and underscores")
        return name

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return pattern


class FormSpec(Strict):
    """Slots to collect, one question at a time, before the intent is answered."""

    intent: str
    slots: list[SlotSpec] = Field(min_length=1)
    done: str | None = None
    """The reply once every slot is filled; `{slot_name}` is replaced by its value."""
    action: str | None = None
    """A custom action (see `actions:`) to run once every slot is filled, with the slots in
    its tracker; its messages follow `done`. A form needs `done`, `action` or both."""

    @model_validator(mode="after")
    def _done_names_known_slots(self) -> FormSpec:
        if self.done is None and self.action is None:
            raise ValueError("a form needs `done` (a reply), `action` (a custom action) or both")
        if self.done is None:
            return self
        names = {slot.name for slot in self.slots}
        for _, field, spec, conversion in string.Formatter().parse(self.done):
            if field is not None and (field not in names or spec or conversion):
                raise ValueError(f"done: {{{field}}} is not one of this form's slots")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKING_WEEK: tuple[Weekday, ...] = WEEKDAYS[:5]
CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")


class OpeningHours(Strict):
    """When the team answers, in its own time zone: told to a customer nobody can take."""

    timezone: str = "UTC"
    days: list[Weekday] = Field(default_factory=lambda: list(WORKING_WEEK))
    open: str = "09:00"
    close: str = "17:00"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @field_validator("open", "close")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError("expected a 24-hour time like 09:00")
        return value


class HandoffConfig(Strict):
    after_fallbacks: int = Field(default=2, ge=1)
    """Consecutive turns the bot could not answer before it offers and starts a handoff."""
    intents: list[str] = Field(
        default_factory=lambda: ["human_handoff", "talk_to_agent", "talk_to_human"]
    )
    """Intents that ask for a person; the built-in phrases ("talk to a human") also do."""
    webhook_url: str | None = None
    """Where a handoff is delivered (JSON with the redacted transcript); none: only logged."""
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    queue_timeout: float = Field(default=300.0, gt=0)
    """Seconds a conversation waits for an agent before it goes back to the bot."""
    hours: OpeningHours | None = None
    """The team's opening hours, told to a customer when nobody can take the conversation."""
    alternative: str | None = None
    """Another way to reach the team (an email address, a ticket form link), told then too."""


class MenuItem(Strict):
    """One quick reply of the menu a vague opener ("I need help") gets."""

    title: str = Field(min_length=1)
    payload: str = Field(pattern=r"^/\S")
    """What the click sends, e.g. `/card_arrival`; it must map to something the bot does
    (checked at training, like a response's buttons)."""


class DialogueConfig(Strict):
    idle_timeout_minutes: float = Field(default=30.0, gt=0)
    """After this long without a message, slots, the open form and the fallback count reset."""
    history_turns: int = Field(default=10, ge=1, le=100)
    """Turns of (redacted) history kept in the conversation state for context."""
    forms: list[FormSpec] = Field(default_factory=list)
    handoff: HandoffConfig = Field(default_factory=HandoffConfig)
    menu: list[MenuItem] = Field(default_factory=list, max_length=10)
    """Quick replies offered to a vague opener ("I need help", "I have a question"), with
    a "Talk to a person" button after them."""

    def form_for(self, intent: str) -> FormSpec | None:
        return next((form for form in self.forms if form.intent == intent), None)
