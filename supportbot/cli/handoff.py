"""`supportbot handoff list|take|release`: who owns a conversation, from the terminal.

Works on the conversation log file directly, so it needs no running server. A take or
release is also journalled in that file; a running server reads the journal about once a
second and tells the customer's open web chat widgets, as for the admin endpoint.
"""

from __future__ import annotations

import argparse
import time

from supportbot.cli.arguments import DB_HELP, DEFAULT_DB, existing_log
from supportbot.errors import SupportbotError


def register(commands: argparse._SubParsersAction, default_db: str = DEFAULT_DB) -> None:
    handoff = commands.add_parser(
        "handoff", help="list handed-off conversations, take one over, or release it to the bot"
    )
    actions = handoff.add_subparsers(dest="handoff_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="conversations a person owns now")
    listing.add_argument("--db", default=default_db, help=DB_HELP)
    for name, text in (
        ("take", "hand a conversation to a person: the bot stays silent"),
        ("release", "give a conversation back to the bot"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("conversation_id", help="the conversation's sender id")
        action.add_argument("--db", default=default_db, help=DB_HELP)
    handoff.set_defaults(run=run_handoff)


def run_handoff(args: argparse.Namespace) -> int:
    from bot.store.state_store import open_state_db, set_handoff_journaled

    db = open_state_db(str(existing_log(args.db)))
    try:
        if args.handoff_command == "list":
            return _list(db)
        take = args.handoff_command == "take"
        if not set_handoff_journaled(db, args.conversation_id, take=take):
            raise SupportbotError(
                f"{args.db}: no conversation {args.conversation_id!r} (it has sent no message yet)"
            )
        owner = "a person" if take else "the bot"
        print(f"conversation {args.conversation_id} is now answered by {owner}")
        return 0
    finally:
        db.conn.close()


def _list(db) -> int:
    from bot.store.state_store import handed_off

    rows = handed_off(db)
    if not rows:
        print("no conversation is handed off")
    now = time.time()
    for row in rows:
        waiting = int((now - row["updated_at"]) // 60)
        print(f"{row['conversation_id']}\t{row['reason']}\twaiting {waiting} min")
    return 0
