"""Custom actions written for rasa-sdk, run in-process or on an action server.

The dialogue manager sees one interface, `ActionRunner.run(name, conversation)`, which
returns an `ActionResult` and never raises for a failing action.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.actions.base import ActionResult, ActionRunner, BotMessage, FailureReason
from bot.actions.domain import build_domain
from bot.actions.events import Event, parse_event, parse_events
from bot.actions.replies import failure_replies, replies_for
from bot.actions.tracker import (
    ConversationView,
    LatestMessage,
    apply_events,
    events_from_history,
    tracker_state,
)
from supportbot.config.actions import ActionsConfig, LocalActionsConfig, RemoteActionsConfig

__all__ = [
    "ActionResult",
    "ActionRunner",
    "ActionsConfig",
    "BotMessage",
    "ConversationView",
    "Event",
    "FailureReason",
    "LatestMessage",
    "LocalActionsConfig",
    "RemoteActionsConfig",
    "apply_events",
    "build_domain",
    "create_action_runner",
    "events_from_history",
    "failure_replies",
    "parse_event",
    "parse_events",
    "replies_for",
    "tracker_state",
]


def create_action_runner(
    config: LocalActionsConfig | RemoteActionsConfig, domain: Mapping[str, Any] | None = None
) -> ActionRunner:
    """The runner a config describes. Local actions are imported here, so a package that
    does not import fails at start-up (`ConfigError`), not on the first customer."""
    if isinstance(config, LocalActionsConfig):
        from bot.actions.local import LocalActionRunner

        return LocalActionRunner(config.package, domain, config.timeout_seconds, config.max_threads)
    from bot.actions.remote import RemoteActionRunner

    return RemoteActionRunner(config.url, domain, config.timeout_seconds)
