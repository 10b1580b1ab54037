"""One turn at a time per conversation across replicas: a PostgreSQL advisory lock.

A session-level `pg_advisory_lock` on a pooled connection is held for the whole turn. Why
not a transaction-scoped lock or `SELECT ... FOR UPDATE`: the turn's own writes go through
the store's connections, and a turn must not keep a transaction open across model calls.
PostgreSQL releases a session lock when the connection ends, so a replica killed mid-turn
frees its conversations at once, with no lease to expire. The key is
`hashtextextended(conversation id, 0)`, a 64-bit hash; a collision only serialises two
conversations, never mixes them. The wait is bounded by `lock_timeout`: a conversation
locked longer than that gives `ConversationBusy`, which the caller answers as retryable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from supportbot.errors import SupportbotError


class ConversationBusy(SupportbotError):
    """Another replica held this conversation for longer than the wait allowed; retry."""


class SharedConversationLock:
    """Advisory locks on `pool`'s connections: one connection per conversation being held."""

    def __init__(self, pool: AsyncConnectionPool, wait_seconds: float = 10.0):
        self.pool = pool
        self.wait_seconds = wait_seconds

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation's lock for the body; `ConversationBusy` after the wait."""
        async with self.pool.connection() as conn:
            await self._acquire(conn, conversation_id)
            try:
                yield
            finally:
                await conn.execute(
                    "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (conversation_id,)
                )

    async def _acquire(self, conn: psycopg.AsyncConnection, conversation_id: str) -> None:
        timeout_ms = max(1, int(self.wait_seconds * 1000))
        try:
            await conn.execute(f"SET lock_timeout = {timeout_ms}")
            await conn.execute(
                "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (conversation_id,)
            )
        except pg_errors.LockNotAvailable as error:
            raise ConversationBusy(
                f"conversation is busy on another replica for over {self.wait_seconds:g} s; "
                "retry the message"
            ) from error
        finally:
            await conn.execute("RESET lock_timeout")
