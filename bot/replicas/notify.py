"""Replica-to-replica news over PostgreSQL LISTEN/NOTIFY.

The payload is small (a conversation id, an event id); the receiver reads the row from
the store. Why not Redis pub/sub: PostgreSQL is already there (one fewer service to run,
back up and secure), and a NOTIFY sent inside the writing transaction is delivered only
if that transaction commits, so a listener never hears of a row it cannot read yet.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import psycopg

Listener = Callable[[str], Awaitable[None]]


async def publish(conn: psycopg.AsyncConnection, channel: str, payload: str) -> None:
    """Notify `channel`; delivered when `conn`'s transaction commits (at once in
    autocommit)."""
    await conn.execute("SELECT pg_notify(%s, %s)", (channel, payload))


class NotificationListener:
    """One dedicated connection LISTENing on `channel`, calling `listener` per payload."""

    def __init__(self, url: str, channel: str, listener: Listener):
        self.url = url
        self.channel = channel
        self.listener = listener
        self._conn: psycopg.AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        """Connect and LISTEN before returning, so nothing published after is missed."""
        self._conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        await self._conn.execute(f'LISTEN "{self.channel}"')
        self._task = asyncio.create_task(self._run(self._conn))
        self.ready.set()

    async def _run(self, conn: psycopg.AsyncConnection) -> None:
        async for notice in conn.notifies():
            await self.listener(notice.payload)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, psycopg.Error):
                await self._task
        if self._conn is not None:
            await self._conn.close()
