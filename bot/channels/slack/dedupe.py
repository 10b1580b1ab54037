"""What the Slack channel must remember across restarts: event ids it has already taken
(so Slack's retries never produce a second reply) and the threads it is talking in (so a
follow-up in such a thread needs no @mention).

Both tables live in the conversation log's SQLite file (WAL, own connection and worker
thread, like the state store), so a restarted server on the same file still knows them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.store.conversation_log import open_side_database

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS slack_events (
    event_id TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_slack_events_seen ON slack_events (seen_at);
CREATE TABLE IF NOT EXISTS slack_threads (
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (channel, thread_ts)
);
"""
PURGE_EVERY_SECONDS = 600.0


class SlackEventStore:
    """Event-id claims and known threads; `claim` is atomic, so one delivery wins."""

    def __init__(
        self, path: str | Path, ttl_seconds: float, clock: Callable[[], float] = time.time
    ):
        self.path = str(path)
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._last_purge = 0.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-slack")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._db = await self._run(self._open)

    def _open(self) -> sqlite3.Connection:
        return open_side_database(self.path, SCHEMA).conn

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    @property
    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "SlackEventStore.open() was not awaited"
        return self._db

    async def claim(self, event_id: str) -> bool:
        """True for the first caller with this id within the TTL, False for every retry."""
        return await self._run(self._claim, event_id, self._clock())

    def _claim(self, event_id: str, now: float) -> bool:
        with self._conn:
            if now - self._last_purge > PURGE_EVERY_SECONDS:
                self._purge(now)
            cursor = self._conn.execute(
                "INSERT INTO slack_events (event_id, seen_at) VALUES (?, ?) "
                "ON CONFLICT(event_id) DO UPDATE SET seen_at = excluded.seen_at "
                "WHERE slack_events.seen_at < ?",
                [event_id, now, now - self.ttl_seconds],
            )
            return cursor.rowcount == 1

    def _purge(self, now: float) -> None:
        cutoff = now - self.ttl_seconds
        self._conn.execute("DELETE FROM slack_events WHERE seen_at < ?", [cutoff])
        self._conn.execute("DELETE FROM slack_threads WHERE seen_at < ?", [cutoff])
        self._last_purge = now

    async def remember_thread(self, channel: str, thread_ts: str) -> None:
        await self._run(self._remember_thread, channel, thread_ts, self._clock())

    def _remember_thread(self, channel: str, thread_ts: str, now: float) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO slack_threads (channel, thread_ts, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT(channel, thread_ts) DO UPDATE SET seen_at = excluded.seen_at",
                [channel, thread_ts, now],
            )

    async def knows_thread(self, channel: str, thread_ts: str) -> bool:
        return await self._run(self._knows_thread, channel, thread_ts)

    def _knows_thread(self, channel: str, thread_ts: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM slack_threads WHERE channel = ? AND thread_ts = ?", [channel, thread_ts]
        ).fetchone()
        return row is not None

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)
