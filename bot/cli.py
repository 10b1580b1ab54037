"""The `supportbot` command. The only place errors become exit codes and where the event
loop is started (`asyncio.run`)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot.cli_types import int_at_least, port_number
from bot.handoff_commands import add_handoff_parser
from bot.learning_commands import add_learning_parsers
from supportbot.errors import SupportbotError

DEFAULT_PORT = 5005
DEFAULT_DB = "supportbot.db"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__.split(".")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="scaffold a new bot project")
    init.add_argument("directory", type=Path)

    data = commands.add_parser("data", help="check training data")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    validate = data_commands.add_parser("validate", help="report problems with file and line")
    validate.add_argument("path", type=Path)

    train = commands.add_parser("train", help="train a model directory from a project or file")
    train.add_argument("path", type=Path)
    train.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR")

    predict = commands.add_parser("predict", help="intents for a file of messages, as JSON lines")
    predict.add_argument("file", type=Path)
    _model_argument(predict, registry=True)
    predict.add_argument("--out", type=Path, help="write JSON lines here (default: stdout)")
    predict.add_argument("--text-column", help="CSV column holding the messages")
    predict.add_argument(
        "--explain",
        action="store_true",
        help="add the nearest training examples and the out-of-scope checks to each line",
    )

    serve = commands.add_parser("serve", help="serve a trained bot over HTTP")
    _model_argument(serve, registry=True)
    _server_arguments(serve)

    chat = commands.add_parser("chat", help="talk to a trained bot in the terminal")
    _model_argument(chat, registry=True)
    chat.add_argument("--db", default=":memory:", help="conversation log (default: not kept)")

    add_handoff_parser(commands, DEFAULT_DB)
    add_learning_parsers(commands, DEFAULT_DB)

    forget = commands.add_parser(
        "forget", help="delete a customer's conversations and derived data, with an audit row"
    )
    forget.add_argument("sender", help="the sender id the channel uses for the customer")
    forget.add_argument("--db", default=DEFAULT_DB, help="SQLite conversation log")
    forget.add_argument("--actor", default=os.environ.get("USER") or "cli", help="audit log name")

    evaluate = commands.add_parser("eval", help="intent accuracy and per-intent P/R/F1")
    evaluate.add_argument("file", type=Path)
    _model_argument(evaluate)
    evaluate.add_argument("--out", type=Path, default=Path("results"), help="report folder")
    evaluate.add_argument("--text-column")
    evaluate.add_argument("--label-column")

    _kb_parser(commands)

    demo = commands.add_parser("demo", help="train the bundled banking demo once, then serve it")
    demo.add_argument("--data", type=Path, help="demo project (default: data/banking_demo)")
    demo.add_argument("--model", type=Path, default=Path("models/banking-demo"))
    _server_arguments(demo)
    return parser


def _kb_parser(commands) -> None:
    kb = commands.add_parser("kb", help="manage a trained bot's knowledge base")
    actions = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add or replace documents: Markdown, text, question,answer CSV, or folders"
    )
    add.add_argument("paths", type=Path, nargs="+", metavar="FILE")
    add.add_argument("--name", help="document name for a single file (default: its file name)")
    remove = actions.add_parser("remove", help="remove documents by name")
    remove.add_argument("names", nargs="+", metavar="NAME")
    listing = actions.add_parser("list", help="the documents, with passage counts")
    search = actions.add_parser("search", help="what the bot would retrieve for a question")
    search.add_argument("query")
    search.add_argument("-k", "--top-k", type=int_at_least(1), default=5)
    for action in (add, remove, listing, search):
        _model_argument(action)
    for action in (listing, search):
        action.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _model_argument(parser: argparse.ArgumentParser, registry: bool = False) -> None:
    """`--model`; with `registry`, a model registry root stands for its current version."""
    help_text = "a model directory, or a model registry root (its current version)"
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="MODEL" if registry else "MODEL_DIR",
        help=help_text if registry else None,
    )


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT)
    parser.add_argument("--db", default=DEFAULT_DB, help="SQLite conversation log")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("bot").setLevel(logging.INFO)
    from bot import commands

    handler = getattr(commands, f"run_{args.command}")
    try:
        return handler(args)
    except SupportbotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last resort: a bug, reported without a traceback
        if os.environ.get("SUPPORTBOT_DEBUG"):
            raise
        print(
            f"error: internal error ({type(exc).__name__}); this is a bug in supportbot. "
            "Run again with SUPPORTBOT_DEBUG=1 to see the traceback.",
            file=sys.stderr,
        )
        return 70


if __name__ == "__main__":
    sys.exit(main())
