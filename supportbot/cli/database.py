"""`supportbot db upgrade|status --db URL`: the PostgreSQL schema's migrations
(bot/store/migrations/), applied one transaction each."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    db = commands.add_parser("db", help="the PostgreSQL store's schema: upgrade, status")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = actions.add_parser("upgrade", help="apply the pending schema migrations")
    upgrade.add_argument("--db", required=True, help="a postgresql:// URL")
    upgrade.set_defaults(run=run_upgrade)
    status = actions.add_parser("status", help="print the schema version and what is pending")
    status.add_argument("--db", required=True, help="a postgresql:// URL")
    status.set_defaults(run=run_status)


def _connect(url: str):
    from bot.store.postgres import PostgresDatabase, is_postgres_url
    from supportbot.errors import SupportbotError

    if not is_postgres_url(url):
        raise SupportbotError(
            f"--db {url}: not a postgresql:// URL (a SQLite file upgrades itself at open)"
        )
    return PostgresDatabase(url)


def run_upgrade(args: argparse.Namespace) -> int:
    from bot.store.schema_versions import current_version, upgrade

    db = _connect(args.db)
    try:
        applied = upgrade(db)
        for migration in applied:
            print(f"applied {migration.version:04d} {migration.name}")
        print(f"schema at version {current_version(db)}")
    finally:
        db.close()
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Exit 0 when the schema is current, 1 when migrations are pending."""
    from bot.store.schema_versions import current_version, latest_version

    db = _connect(args.db)
    try:
        have, want = current_version(db), latest_version()
    finally:
        db.close()
    print(f"schema at version {have}, this release needs {want}")
    if have < want:
        print("pending: run `supportbot db upgrade --db URL`")
        return 1
    return 0
