"""`supportbot forget SENDER`: delete a customer's conversations and what was derived from
them, with an audit entry (docs/privacy.md)."""

from __future__ import annotations

import argparse
import asyncio
import os

from supportbot.cli.arguments import DB_HELP, DEFAULT_DB, existing_log


def register(commands: argparse._SubParsersAction) -> None:
    forget = commands.add_parser(
        "forget", help="delete a customer's conversations and derived data, with an audit row"
    )
    forget.add_argument("sender", help="the sender id the channel uses for the customer")
    forget.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)
    forget.add_argument("--actor", default=os.environ.get("USER") or "cli", help="audit log name")
    forget.set_defaults(run=run_forget)


def run_forget(args: argparse.Namespace) -> int:
    """Exit 0 when done (also when nothing was held for the sender), 1 on a bad log file."""
    existing_log(args.db)
    report = asyncio.run(_forget(args.db, args.sender, args.actor))
    if report.conversations == 0 and report.turns == 0:
        print(f"no conversations held for this sender (audit entry {report.audit_id})")
    else:
        print(
            f"deleted {report.conversations} conversation(s), {report.turns} turn(s), "
            f"{report.training_rows} training row(s), {report.retrieval_entries} retrieval "
            f"entr{'y' if report.retrieval_entries == 1 else 'ies'} (audit entry {report.audit_id})"
        )
    return 0


async def _forget(db: str, sender: str, actor: str):
    from bot.store.conversation_log import SQLiteConversationStore
    from bot.store.privacy import forget_sender

    store = await SQLiteConversationStore.open(db)
    try:
        return await forget_sender(store, sender, f"cli:{actor}")
    finally:
        await store.close()
