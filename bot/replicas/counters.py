"""Fixed-window counters every replica shares: rate limits, abuse strikes, session limits.

One statement per hit, `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`: PostgreSQL takes
the row lock, so two replicas counting the same key at once both see the true total.
The table is created here (`ensure_counter_table`) until it has its own migration in
bot/store/migrations/.
"""

from __future__ import annotations

import time

from psycopg_pool import AsyncConnectionPool

CREATE_COUNTERS = """
CREATE TABLE IF NOT EXISTS shared_counters (
    scope TEXT NOT NULL,
    counter_key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (scope, counter_key, window_start)
)
"""

COUNT_HIT = """
INSERT INTO shared_counters (scope, counter_key, window_start, hits)
VALUES (%s, %s, %s, 1)
ON CONFLICT (scope, counter_key, window_start) DO UPDATE SET hits = shared_counters.hits + 1
RETURNING hits
"""


async def ensure_counter_table(pool: AsyncConnectionPool) -> None:
    """Create the counters table when it is missing."""
    async with pool.connection() as conn:
        await conn.execute(CREATE_COUNTERS)


class SharedWindowCounter:
    """Hits per key in fixed windows of `window_seconds`, counted in PostgreSQL."""

    def __init__(self, pool: AsyncConnectionPool, scope: str, window_seconds: int):
        self.pool = pool
        self.scope = scope
        self.window_seconds = window_seconds

    async def hit(self, key: str, now: float | None = None) -> int:
        """Count one hit for `key`; returns the hits in the current window, this one
        included."""
        moment = time.time() if now is None else now
        window = int(moment // self.window_seconds) * self.window_seconds
        async with self.pool.connection() as conn:
            cursor = await conn.execute(COUNT_HIT, (self.scope, key, window))
            row = await cursor.fetchone()
        assert row is not None  # RETURNING always yields the row it wrote
        return int(row[0])

    async def allow(self, key: str, limit: int, now: float | None = None) -> bool:
        """Count a hit; True while the window's hits stay within `limit`."""
        return await self.hit(key, now) <= limit

    async def prune(self, now: float | None = None) -> int:
        """Delete windows that have ended; returns how many rows went."""
        moment = time.time() if now is None else now
        current = int(moment // self.window_seconds) * self.window_seconds
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM shared_counters WHERE scope = %s AND window_start < %s",
                (self.scope, current),
            )
        return cursor.rowcount
