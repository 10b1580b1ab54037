"""Options that several command groups share, declared once."""

from __future__ import annotations

import argparse
from pathlib import Path

from supportbot.cli.types import port_number

DEFAULT_PORT = 5005
DEFAULT_DB = "supportbot.db"
DB_HELP = "conversation log: a SQLite file or a postgresql:// URL"


def model_argument(parser: argparse.ArgumentParser, registry: bool = False) -> None:
    """`--model`; with `registry`, a model registry root stands for its current version."""
    help_text = "a model directory, or a model registry root (its current version)"
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="MODEL" if registry else "MODEL_DIR",
        help=help_text if registry else None,
    )


def server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT)
    parser.add_argument("--db", default=DEFAULT_DB, help=DB_HELP)


def existing_log(path: str) -> Path | str:
    """The conversation log a maintenance command works on; it must already exist. A
    postgresql:// URL is returned as it is: opening it checks the server and the schema."""
    from supportbot.errors import SupportbotError

    if path.startswith(("postgresql://", "postgres://")):
        return path
    if path == ":memory:" or not Path(path).is_file():
        raise SupportbotError(f"{path}: no conversation log at this path")
    return Path(path)
