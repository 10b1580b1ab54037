"""`supportbot eval`: a trained bot scored on a labelled file, with a report folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from supportbot.cli.arguments import model_argument


def register(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser("eval", help="intent accuracy and per-intent P/R/F1")
    evaluate.add_argument("file", type=Path)
    model_argument(evaluate)
    evaluate.add_argument("--out", type=Path, default=Path("results"), help="report folder")
    evaluate.add_argument("--text-column")
    evaluate.add_argument("--label-column")
    evaluate.set_defaults(run=run_eval)


def run_eval(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_model

    summary = evaluate_model(args.model, args.file, args.out, args.text_column, args.label_column)
    print(json.dumps(summary, indent=2))
    return 0
