"""`supportbot demo`: train the bundled banking demo once, then serve it."""

from __future__ import annotations

import argparse
from pathlib import Path

from supportbot.cli.arguments import server_arguments
from supportbot.cli.serving import run_serve
from supportbot.errors import SupportbotError

DEMO_DATA = Path(__file__).resolve().parents[2] / "data" / "banking_demo"


def register(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser("demo", help="train the bundled banking demo once, then serve it")
    demo.add_argument("--data", type=Path, help="demo project (default: data/banking_demo)")
    demo.add_argument("--model", type=Path, default=Path("models/banking-demo"))
    server_arguments(demo)
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    data = args.data or DEMO_DATA
    if not (args.model / "manifest.json").is_file():
        if not data.is_dir():
            raise SupportbotError(
                f"{data}: demo data not found; run from a supportbot checkout or pass --data"
            )
        print(f"first run: training the demo bot from {data} into {args.model}")
        from training.train import train_model

        train_model(data, args.model, progress=lambda line: print(line, flush=True))
    return run_serve(args)
