"""One customer message while it is being handled: the `Turn` every stage reads and writes,
and the `Dispatcher` its replies are put into."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from bot.channels.base import InboundMessage, OutboundReply, QuickReply
from bot.dialogue.state import ConversationState
from bot.moderation import ModerationVerdict
from retrieval.bot_model import Analysis
from supportbot.payloads import payload_name
from supportbot.turn_actions import TurnAction

PAYLOAD_PREFIX = "/"
"""A quick reply's payload starts with this (Rasa's `/intent`), so a click is told from text."""
HANDOFF_PAYLOAD = PAYLOAD_PREFIX + "human_handoff"
"""The payload of every "Talk to a human" button the bot offers."""


def payload_of(text: str) -> str | None:
    """The name a quick-reply payload carries (`/order_status` -> `order_status`, and
    Rasa's `/order_status{"order": "A1"}` too), or None."""
    return payload_name(text)


def chosen_by_click(turn: Turn) -> str | None:
    """The intent (or knowledge-base class) a click chose: what its button was declared to
    answer as (`Turn.chosen`), else the name its payload carries; None for typed text."""
    return turn.chosen or payload_of(turn.text)


class Dispatcher:
    """Collects a turn's replies, like rasa-sdk's CollectingDispatcher."""

    def __init__(self) -> None:
        self.replies: list[OutboundReply] = []

    def utter(self, text: str, buttons: tuple[QuickReply, ...] = ()) -> None:
        self.replies.append(OutboundReply(text, tuple(buttons)))

    def clear(self) -> None:
        self.replies.clear()


@dataclass(frozen=True)
class RequestedAction:
    """A custom action to run before the turn ends, asked for by a form that finished."""

    name: str
    form: str | None = None
    reask: str | None = None
    """The form's slot to ask again if the action rejects (raises `ActionExecutionRejection`)."""
    forget_slots: tuple[str, ...] = ()
    """Slots to drop after the action (the form's answers), unless the action set them."""


@dataclass
class Turn:
    """Everything known about one customer message while it is being handled."""

    message: InboundMessage
    text: str
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    started: float = field(default_factory=time.perf_counter)
    moderation: ModerationVerdict | None = None
    analysis: Analysis | None = None
    state: ConversationState | None = None
    """Slots, history and handoff status, when the conversation stages are in the chain."""
    chosen: str | None = None
    """The intent a clicked button was declared to answer as (`bot.dialogue.stages.clicks`)."""
    action: TurnAction = "pending"
    """What the turn did (the log's `action`); its words and groupings: supportbot.turn_actions."""
    error: str | None = None
    requested_action: RequestedAction | None = None
    """A custom action a stage asked for at the end of the turn (a finished form's)."""
    metadata: dict = field(default_factory=dict)
    """Extra facts for the turn's log record, e.g. which custom actions ran."""
    started_analysis: tuple[str, asyncio.Future[Analysis]] | None = None
    """The model call started when the turn was admitted, with the text it was given
    (`bot.dialogue.stages.analysis.StartAnalysis`)."""

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000
