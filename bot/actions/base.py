"""What every action runner promises: run an action by name, return an `ActionResult`,
and never raise into the dialogue.

A runner turns every failure (timeout, unreachable server, a crash inside the action)
into `ActionResult.failure(...)`, so the dialogue manager has one branch to write: the
apology and the offer of a human (`bot.actions.replies`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from bot.actions.events import Event, FollowupAction, parse_events
from bot.actions.tracker import ConversationView

log = logging.getLogger(__name__)


class FailureReason(StrEnum):
    """Why an action produced nothing usable; the value is what goes into logs and records."""

    REJECTED = "rejected"
    """The action raised `ActionExecutionRejection`: a form should re-ask, not apologise."""
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    ERROR = "error"
    """The action raised, or the server answered 5xx."""
    BAD_RESPONSE = "bad_response"
    DOMAIN_MISSING = "domain_missing"


@dataclass(frozen=True)
class BotMessage:
    """One message from `dispatcher.utter_message`, in rasa-sdk's response shape."""

    text: str | None = None
    buttons: tuple[Mapping[str, Any], ...] = ()
    image: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    attachment: str | None = None
    elements: tuple[Mapping[str, Any], ...] = ()
    response: str | None = None
    """The name of a domain response to render instead of (or besides) `text`."""

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BotMessage:
        return cls(
            text=raw.get("text"),
            buttons=tuple(b for b in raw.get("buttons") or () if isinstance(b, Mapping)),
            image=raw.get("image"),
            custom=dict(raw.get("custom") or {}),
            attachment=raw.get("attachment"),
            elements=tuple(e for e in raw.get("elements") or () if isinstance(e, Mapping)),
            response=raw.get("response") or raw.get("template"),
        )


@dataclass(frozen=True)
class ActionResult:
    """What an action did: messages to send and events to apply, or why it failed."""

    action_name: str
    messages: tuple[BotMessage, ...] = ()
    events: tuple[Event, ...] = ()
    reason: FailureReason | None = None
    detail: str = ""
    """For logs and operators only, never for the customer."""

    @property
    def failed(self) -> bool:
        return self.reason is not None

    @property
    def rejected(self) -> bool:
        return self.reason is FailureReason.REJECTED

    @property
    def followup(self) -> str | None:
        """The action to run next, if the action asked for one (the last request wins)."""
        names = [event.name for event in self.events if isinstance(event, FollowupAction)]
        return names[-1] if names else None

    @classmethod
    def failure(cls, action_name: str, reason: FailureReason, detail: str) -> ActionResult:
        return cls(action_name, reason=reason, detail=detail)


def result_from_payload(action_name: str, payload: Any) -> ActionResult:
    """Parse an action server's `{"events": [...], "responses": [...]}`; anything else is a
    `BAD_RESPONSE` failure, not an exception."""
    if payload is None:
        return ActionResult(action_name)
    if not isinstance(payload, Mapping):
        return ActionResult.failure(
            action_name, FailureReason.BAD_RESPONSE, "body is not an object"
        )
    events, responses = payload.get("events"), payload.get("responses")
    events, responses = [] if events is None else events, [] if responses is None else responses
    if not isinstance(events, list) or not isinstance(responses, list):
        detail = "`events` and `responses` must be lists"
        return ActionResult.failure(action_name, FailureReason.BAD_RESPONSE, detail)
    messages = tuple(BotMessage.from_dict(r) for r in responses if isinstance(r, Mapping))
    return ActionResult(action_name, messages, parse_events(events, action_name))


@runtime_checkable
class ActionRunner(Protocol):
    """Runs custom actions. `run` returns within the runner's timeout and never raises for
    a failing action; `close` releases the runner's connections and threads."""

    async def run(self, action_name: str, conversation: ConversationView) -> ActionResult: ...

    async def close(self) -> None: ...
