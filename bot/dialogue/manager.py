"""The dialogue manager: one turn flows through a chain of middleware stages.

A stage is called as `await stage(turn, next_stage)` and calls `await next_stage()` to
pass the turn on, so deployments can add their own stages (rate limits, analytics)
without touching the others. Every stage has a name (`Stage.name`, or a function's own
name), which profiles and metrics report. Stages never see the transport: they put
replies into the turn's dispatcher, and the channel renders them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import ClassVar, Protocol

from bot.channels.base import InboundMessage, OutboundReply
from bot.dialogue.turn import Turn
from bot.moderation import normalise_text

Next = Callable[[], Awaitable[None]]
Middleware = Callable[[Turn, Next], Awaitable[None]]
"""What the chain calls: a `Stage`, or a plain async function of (turn, next_stage)."""


class SharedLock(Protocol):
    """A lock every replica honours (bot/replicas/conversation_lock.py on PostgreSQL)."""

    def hold(self, conversation_id: str) -> AbstractAsyncContextManager[None]: ...


class Stage(Protocol):
    """A named step of the turn (bolt-python's Middleware): it may act before and after
    `await next_stage()`, or answer the turn itself and not call it."""

    name: ClassVar[str]

    async def __call__(self, turn: Turn, next_stage: Next) -> None: ...


def stage_name(stage: Middleware) -> str:
    """The name a profile or a metric gives a stage."""
    name = getattr(stage, "name", None) or getattr(stage, "__name__", None)
    return str(name or type(stage).__name__)


class DialogueManager:
    """Runs turns through the stages; turns of one conversation run strictly in order."""

    def __init__(self, stages: list[Middleware], shared_lock: SharedLock | None = None):
        self.stages = list(stages)
        self.shared_lock = shared_lock
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
    async def _conversation(self, sender_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(sender_id, asyncio.Lock())
        self._waiting[sender_id] = self._waiting.get(sender_id, 0) + 1
        try:
            async with lock:
                if self.shared_lock is None:
                    yield
                else:
                    # After the local lock: one replica holds at most one PostgreSQL
                    # connection per conversation (bot/replicas/conversation_lock.py).
                    async with self.shared_lock.hold(sender_id):
                        yield
        finally:
            self._waiting[sender_id] -= 1
            if self._waiting[sender_id] == 0:
                del self._waiting[sender_id], self._locks[sender_id]


async def _end_of_chain() -> None:
    """What the last stage's `next()` runs: nothing."""
