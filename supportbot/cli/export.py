"""`supportbot export dialogues --db LOG --out FILE.jsonl.gz`: conversations the team's
agents answered, redacted, in the dialogue format `supportbot train` reads."""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

from supportbot.cli.arguments import DEFAULT_DB, existing_log
from supportbot.errors import SupportbotError


def register(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="export logged conversations for training")
    kinds = export.add_subparsers(dest="export_command", required=True, metavar="WHAT")
    dialogues = kinds.add_parser(
        "dialogues", help="customer and agent turns (redacted) as dialogue JSONL"
    )
    dialogues.add_argument("--db", default=DEFAULT_DB, help="SQLite conversation log")
    dialogues.add_argument("--out", type=Path, required=True, help="FILE.jsonl or FILE.jsonl.gz")
    export.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from bot.store.conversation_log import open_database
    from bot.store.dialogue_export import agent_dialogues

    db = open_database(existing_log(args.db), read_only=True)
    if not args.out.parent.is_dir():
        raise SupportbotError(f"{args.out}: its folder does not exist")
    opener = gzip.open if args.out.suffix == ".gz" else open
    count = 0
    try:
        with opener(args.out, "wt", encoding="utf-8") as out:
            for dialogue in agent_dialogues(db):
                out.write(json.dumps(dialogue, ensure_ascii=False) + "\n")
                count += 1
    finally:
        db.close()
    print(f"wrote {count} dialogue(s) to {args.out}")
    return 0
