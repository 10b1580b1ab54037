"""The dialogue runtime's cross-replica lock: opened only when the log is on PostgreSQL.

On SQLite there is one process by construction, and the in-process lock is enough.
"""

from __future__ import annotations

from bot.replicas.conversation_lock import SharedConversationLock
from bot.replicas.pool import open_replica_pool
from bot.store.postgres import is_postgres_url


async def open_shared_lock(store: object) -> SharedConversationLock | None:
    """A lock on its own pool when `store` lives in PostgreSQL; None otherwise."""
    location = getattr(store, "path", None)
    if location is None or not is_postgres_url(location):
        return None
    return SharedConversationLock(await open_replica_pool(str(location)))


async def close_shared_lock(lock: SharedConversationLock | None) -> None:
    """Close the lock's pool; PostgreSQL frees any lock still held with its connection."""
    if lock is not None:
        await lock.pool.close()
