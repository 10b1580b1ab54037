"""Versioned PostgreSQL migrations: `bot/store/migrations/NNNN_name.sql`, applied in order
by `supportbot db upgrade`, each in its own transaction with its row in
`schema_migrations`. A server or command refuses a database that is behind, naming the
versions and the command that brings it up to date, rather than failing mid-turn on a
missing table. SQLite files keep creating their schema themselves at open.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from bot.store.postgres import PostgresDatabase, redact_url
from supportbot.errors import SupportbotError

TRACKING_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with this release, oldest first."""
    found = []
    for entry in resources.files("bot.store.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append(Migration(int(number), name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def latest_version() -> int:
    return migrations()[-1].version


def current_version(db: PostgresDatabase) -> int:
    """The highest version applied, 0 for a database never upgraded."""
    if "schema_migrations" not in db.table_names():
        return 0
    row = db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def upgrade(db: PostgresDatabase) -> list[Migration]:
    """Apply the pending migrations, each in one transaction; returns those applied."""
    db.execute(TRACKING_TABLE)
    applied = []
    for migration in migrations():
        if migration.version <= current_version(db):
            continue
        with db.atomic():
            db.raw.execute(migration.sql.encode())
            db.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                [migration.version, migration.name],
            )
        applied.append(migration)
    db.executescript("SELECT 1")  # forget the cached serial-id tables
    return applied


def require_current(db: PostgresDatabase) -> None:
    """Raise a SupportbotError naming the versions when the schema is behind this release."""
    have, want = current_version(db), latest_version()
    if have < want:
        raise SupportbotError(
            f"{redact_url(db.url)}: the database schema is at version {have}, this release "
            f"needs version {want}; run `supportbot db upgrade --db URL` first"
        )
    if have > want:
        raise SupportbotError(
            f"{redact_url(db.url)}: the database schema is at version {have}, newer than "
            f"this release knows ({want}); upgrade supportbot"
        )
