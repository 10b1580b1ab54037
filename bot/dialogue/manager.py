"""The dialogue manager: one turn flows through a chain of middleware stages.

Each stage is `async def stage(turn, next)` and calls `await next()` to pass the turn on,
so deployments can add their own stages (rate limits, analytics) without touching the
others. Stages never see the transport: they put replies into the turn's dispatcher,
and the channel renders them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from bot.channels.base import InboundMessage, OutboundReply, QuickReply
from bot.dialogue.state import ConversationState
from bot.moderation import ModerationVerdict, normalise_text
from retrieval.bot_model import Analysis

log = logging.getLogger(__name__)

Next = Callable[[], Awaitable[None]]
Middleware = Callable[["Turn", Next], Awaitable[None]]


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
    action: str = "pending"
    error: str | None = None
    requested_action: RequestedAction | None = None
    """A custom action a stage asked for at the end of the turn (a finished form's)."""
    metadata: dict = field(default_factory=dict)
    """Extra facts for the turn's log record, e.g. which custom actions ran."""
    started_analysis: tuple[str, asyncio.Future[Analysis]] | None = None
    """The model call started when the turn was admitted, with the text it was given
    (`bot.dialogue.pipeline.start_analysis`)."""

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


class DialogueManager:
    """Runs turns through the stages; turns of one conversation run strictly in order."""

    def __init__(self, stages: list[Middleware]):
        self.stages = list(stages)
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, int] = {}

    async def handle(self, message: InboundMessage) -> list[OutboundReply]:
        async with self._conversation(message.sender_id):
            turn = Turn(message, normalise_text(message.text))
            await self._chain(turn)()
            return list(turn.dispatcher.replies)

    def _chain(self, turn: Turn) -> Next:
        """The turn's first stage, each stage's `next` bound to the one after it. Built
        from the last stage back, so a stage's `next()` is the next stage's coroutine
        itself: no dispatching frame between stages for every await to pass through."""
        next_stage: Next = _end_of_chain
        for stage in reversed(self.stages):
            next_stage = partial(stage, turn, next_stage)
        return next_stage

    @asynccontextmanager
    async def _conversation(self, sender_id: str):
        lock = self._locks.setdefault(sender_id, asyncio.Lock())
        self._waiting[sender_id] = self._waiting.get(sender_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._waiting[sender_id] -= 1
            if self._waiting[sender_id] == 0:
                del self._waiting[sender_id], self._locks[sender_id]


async def _end_of_chain() -> None:
    """What the last stage's `next()` runs: nothing."""
