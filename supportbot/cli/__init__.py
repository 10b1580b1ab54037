"""The `supportbot` command. The only place errors become exit codes and where the event
loop is started (`asyncio.run`).

Each command group lives in a module of its own with a `register(commands)` function,
and `COMMAND_GROUPS` lists them in the order `supportbot --help` shows them. A group
imports runtime and training code inside its commands, so `--help` and `serve` load only
what they use.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from supportbot.cli import (
    agents,
    conversation_tests,
    database,
    demo,
    evaluation,
    export,
    handoff,
    kb,
    learning,
    models,
    privacy,
    project,
    report,
    serving,
)
from supportbot.errors import SupportbotError

COMMAND_GROUPS = (
    project,
    serving,
    handoff,
    agents,
    learning,
    report,
    models,
    privacy,
    export,
    evaluation,
    conversation_tests,
    kb,
    demo,
    database,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__.split(".")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("bot").setLevel(logging.INFO)
    try:
        return args.run(args)
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
