"""The replicas' own connection pool: autocommit, so a session advisory lock or a LISTEN
never sits inside a transaction the pool would roll back when the connection returns."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool


async def open_replica_pool(url: str, max_size: int = 20) -> AsyncConnectionPool:
    """An open pool on `url`; one connection per conversation held, so size it for the
    turns a replica runs at once."""
    pool = AsyncConnectionPool(
        url, min_size=1, max_size=max_size, kwargs={"autocommit": True}, open=False
    )
    await pool.open(wait=True)
    return pool
