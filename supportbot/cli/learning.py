"""The learning-loop sub-commands: `review`, `labels export|import`, `discover` and
`retrain`. Training code is imported inside the commands, so
`serve` never loads it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from supportbot.cli.arguments import DB_HELP, DEFAULT_DB, existing_log
from supportbot.cli.types import float_between, int_at_least
from supportbot.config import CONFIG_FILENAME, LearningConfig, load_config


def register(commands: argparse._SubParsersAction, default_db: str = DEFAULT_DB) -> None:
    review = commands.add_parser("review", help="pick logged turns most worth a human look")
    _model_and_db(review, default_db)
    review.add_argument(
        "--size", type=int_at_least(1), help="turns to pick (default: learning.review_size)"
    )
    review.add_argument("--project", type=Path, help="bot project whose learning: settings apply")
    review.add_argument("--out", type=Path, help="also export the queued picks (.csv or .jsonl)")
    review.add_argument("--seed", type=int, default=0)
    review.add_argument("--json", action="store_true", help="print JSON lines")
    review.set_defaults(run=run_review)

    labels = commands.add_parser("labels", help="export picks or import reviewed labels")
    actions = labels.add_subparsers(dest="labels_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="queued picks (or --labelled labels) to a file")
    export.add_argument("file", type=Path, metavar="FILE.csv|FILE.jsonl")
    export.add_argument("--labelled", action="store_true", help="export the stored labels")
    load = actions.add_parser("import", help="store the reviewed rows of a file")
    load.add_argument("file", type=Path, metavar="FILE.csv|FILE.jsonl")
    load.add_argument("--reviewer", default="import", help="name recorded with the labels")
    for action in (export, load):
        action.add_argument("--db", default=default_db, help=DB_HELP)
    labels.set_defaults(run=run_labels)

    discover = commands.add_parser("discover", help="candidate new intents from fallbacks")
    _model_and_db(discover, default_db)
    discover.add_argument("--min-size", type=int_at_least(2), default=5)
    discover.add_argument(
        "--distance", type=float_between(0.0, 2.0), default=0.35, help="cosine merge distance"
    )
    discover.add_argument("--json", action="store_true")
    discover.set_defaults(run=run_discover)

    retrain = commands.add_parser("retrain", help="merge labels, train, promote if not worse")
    retrain.add_argument("project", type=Path)
    retrain.add_argument("--models", type=Path, required=True, metavar="ROOT")
    retrain.add_argument("--db", default=default_db, help=DB_HELP)
    retrain.set_defaults(run=run_retrain)


def _model_and_db(parser: argparse.ArgumentParser, default_db: str) -> None:
    parser.add_argument(
        "--model", type=Path, required=True, metavar="MODEL_DIR", help="or a registry root"
    )
    parser.add_argument("--db", default=default_db, help=DB_HELP)


def _learning(project: Path | None) -> LearningConfig:
    if project is None:
        return LearningConfig()
    return load_config(project / CONFIG_FILENAME).learning


def _existing_log(path: str):
    from bot.store.learning_log import LearningLog

    return LearningLog.open(existing_log(path))


def run_review(args: argparse.Namespace) -> int:
    from retrieval.model_registry import resolve_model_dir
    from training.labels import export_rows, write_rows
    from training.review import run_review as pick

    learning = _learning(args.project)
    _existing_log(args.db).close()
    size = args.size or learning.review_size
    picks = pick(Path(args.db), resolve_model_dir(args.model), size, learning, args.seed)
    for p in picks:
        if args.json:
            print(json.dumps(p.to_json(), ensure_ascii=False))
        else:
            print(f"{p.turn_id:>8}  {p.score:5.2f}  {','.join(p.reasons) or '-':<28} {p.message}")
    if args.out:
        log = _existing_log(args.db)
        try:
            count = write_rows(export_rows(log), args.out)
        finally:
            log.close()
        print(f"{count} queued pick(s) written to {args.out}")
    print(f"{len(picks)} turn(s) queued for review")
    return 0


def run_labels(args: argparse.Namespace) -> int:
    from training.labels import export_rows, import_labels, write_rows

    log = _existing_log(args.db)
    try:
        if args.labels_command == "export":
            count = write_rows(export_rows(log, labelled=args.labelled), args.file)
            print(f"{count} row(s) written to {args.file}")
        else:
            result = import_labels(log, args.file, args.reviewer)
            print(f"{result.stored} label(s) stored, {result.skipped} row(s) without an intent")
    finally:
        log.close()
    return 0


def run_discover(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir
    from training.intent_discovery import discover_intents

    log = _existing_log(args.db)
    try:
        model = BotModel.load(resolve_model_dir(args.model))
        candidates = discover_intents(log, model, args.min_size, args.distance)
    finally:
        log.close()
    for c in candidates:
        if args.json:
            print(json.dumps(c.to_json(), ensure_ascii=False))
        else:
            print(f"{c.name} ({c.size} messages, cohesion {c.cohesion}):")
            print("".join(f"    {text}\n" for text in c.examples), end="")
    if not args.json:
        print(f"{len(candidates)} candidate intent(s)")
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from training.retrain import retrain

    log = _existing_log(args.db)
    try:
        result = retrain(args.project, args.models, log, progress=lambda line: print(line))
    finally:
        log.close()
    print(json.dumps(result.to_json(), indent=2))
    return 0
