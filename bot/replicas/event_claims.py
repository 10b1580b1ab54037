"""Once-only handling of a platform event across replicas (Slack retries).

Slack redelivers an event up to three times, and a load balancer may hand each delivery
to a different replica. The claim is one statement, `INSERT ... ON CONFLICT DO NOTHING
RETURNING`: PostgreSQL's unique index decides, so of any number of concurrent deliveries
to any number of replicas exactly one gets the row back and answers.
"""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

CREATE_CLAIMS = """
CREATE TABLE IF NOT EXISTS replica_event_claims (
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
)
"""

CLAIM = """
INSERT INTO replica_event_claims (source, event_id, claimed_by) VALUES (%s, %s, %s)
ON CONFLICT (source, event_id) DO NOTHING
RETURNING event_id
"""


async def ensure_claims_table(pool: AsyncConnectionPool) -> None:
    """Create the claims table when it is missing (until a migration owns it)."""
    async with pool.connection() as conn:
        await conn.execute(CREATE_CLAIMS)


async def claim_event(pool: AsyncConnectionPool, source: str, event_id: str, replica: str) -> bool:
    """True for the one delivery of `event_id` that should be answered; False for repeats."""
    async with pool.connection() as conn:
        cursor = await conn.execute(CLAIM, (source, event_id, replica))
        return await cursor.fetchone() is not None
