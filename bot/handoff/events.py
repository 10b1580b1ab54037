"""Who hears that an agent took over or released a conversation: channels subscribe here,
so the admin endpoints need not know which channel holds the customer's open connections
(the web chat pushes the change to the widget at once).

Changes made by `supportbot handoff` in another process reach the same listeners through
the journal it writes to the log file, which the server polls (`handoff_journal_context`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aiohttp import web

from bot.background_tasks import stop_task
from bot.store.state_store import HandoffChange

log = logging.getLogger(__name__)

JOURNAL_POLL_SECONDS = 1.0
"""How often the server looks for handoff changes the CLI made: the widget's delay at most."""

HandoffListener = Callable[[str, bool], Awaitable[None]]
"""Called with (conversation id, taken): True when a person now owns it, False when the bot."""


class HandoffListeners:
    """The app's subscribers to handoff changes made by an agent."""

    def __init__(self) -> None:
        self._listeners: list[HandoffListener] = []

    def subscribe(self, listener: HandoffListener) -> None:
        self._listeners.append(listener)

    async def announce(self, conversation_id: str, taken: bool) -> None:
        """Tell every listener in turn. The change is already stored, so a failing listener
        is logged (with the conversation id) and the others are still told."""
        for listener in list(self._listeners):
            try:
                await listener(conversation_id, taken)
            except Exception:
                log.exception("handoff listener failed (conversation %s)", conversation_id)


HANDOFF_LISTENERS = web.AppKey("handoff_listeners", HandoffListeners)


def handoff_listeners(app: web.Application) -> HandoffListeners:
    """The app's registry, created by whichever part is mounted first (before start-up)."""
    listeners = app.get(HANDOFF_LISTENERS)
    if listeners is None:
        listeners = app[HANDOFF_LISTENERS] = HandoffListeners()
    return listeners


@runtime_checkable
class HandoffJournal(Protocol):
    """Handoff changes made outside this server, in commit order (bot/state_store.py)."""

    async def last_handoff_change(self) -> int: ...

    async def handoff_changes_after(self, change_id: int) -> Sequence[HandoffChange]: ...


class JournalWatcher:
    """Announces each journal row written after the server started, once and in order."""

    def __init__(self, journal: HandoffJournal, listeners: HandoffListeners):
        self._journal = journal
        self._listeners = listeners
        self._seen: int | None = None

    async def poll(self) -> None:
        """The first poll only notes where the journal ends: older changes are already in
        the state each widget gets when it connects."""
        if self._seen is None:
            self._seen = await self._journal.last_handoff_change()
            return
        for change in await self._journal.handoff_changes_after(self._seen):
            await self._listeners.announce(change.conversation_id, change.taken)
            self._seen = change.id

    async def poll_logged(self) -> None:
        """One poll that never raises: a locked or unreadable file is retried next time."""
        try:
            await self.poll()
        except sqlite3.Error as exc:
            log.warning("handoff journal not read (%s); retrying", exc)
        except Exception:
            log.exception("handoff journal poll failed; retrying")

    async def run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.poll_logged()


def handoff_journal_context(
    journal_key: web.AppKey[Any],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context: note the journal's end at start-up, then poll it every
    `JOURNAL_POLL_SECONDS` until shutdown. Does nothing when `app[journal_key]` (the state
    store) keeps no journal."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        journal = app.get(journal_key)
        if not isinstance(journal, HandoffJournal):
            yield
            return
        watcher = JournalWatcher(journal, handoff_listeners(app))
        await watcher.poll_logged()
        task = asyncio.get_running_loop().create_task(
            watcher.run(JOURNAL_POLL_SECONDS), name="handoff-journal"
        )
        try:
            yield
        finally:
            await stop_task(task)

    return lifecycle


@dataclass(frozen=True)
class PersonMessage:
    """Something said to the customer outside a bot turn: an agent's message (`kind`
    "agent", with the agent's display name), a notice ("Dana joined"), or the bot
    speaking up on its own ("bot": the queue timed out)."""

    text: str
    kind: str = "agent"
    agent: str | None = None
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "agent": self.agent, "at": self.at}


Delivery = Callable[[str, PersonMessage], Awaitable[bool]]
"""Called with (conversation id, message); True once it reached the customer's channel."""


class CustomerDeliveries:
    """Each channel registers how it reaches its customers outside a turn."""

    def __init__(self) -> None:
        self._by_channel: dict[str, Delivery] = {}

    def register(self, channel: str, delivery: Delivery) -> None:
        self._by_channel[channel] = delivery

    async def deliver(self, channel: str, conversation_id: str, message: PersonMessage) -> bool:
        """False when the channel is not mounted or could not deliver (logged there)."""
        delivery = self._by_channel.get(channel)
        if delivery is None:
            log.warning("no delivery for channel %s (conversation %s)", channel, conversation_id)
            return False
        try:
            return await delivery(conversation_id, message)
        except Exception:
            log.exception("delivery failed (conversation %s)", conversation_id)
            return False


CUSTOMER_DELIVERIES = web.AppKey("customer_deliveries", CustomerDeliveries)


def customer_deliveries(app: web.Application) -> CustomerDeliveries:
    deliveries = app.get(CUSTOMER_DELIVERIES)
    if deliveries is None:
        deliveries = app[CUSTOMER_DELIVERIES] = CustomerDeliveries()
    return deliveries
