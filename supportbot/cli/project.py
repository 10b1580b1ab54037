"""`supportbot init`, `data validate`, `train` and `predict`: a bot project from scaffold to
a trained model directory and its predictions."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from supportbot.cli.arguments import model_argument


def register(commands: argparse._SubParsersAction) -> None:
    init = commands.add_parser("init", help="scaffold a new bot project")
    init.add_argument("directory", type=Path)
    init.set_defaults(run=run_init)

    data = commands.add_parser("data", help="check training data")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    validate = data_commands.add_parser("validate", help="report problems with file and line")
    validate.add_argument("path", type=Path)
    data.set_defaults(run=run_data)

    train = commands.add_parser("train", help="train a model directory from a project or file")
    train.add_argument("path", type=Path)
    train.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR")
    train.set_defaults(run=run_train)

    predict = commands.add_parser("predict", help="intents for a file of messages, as JSON lines")
    predict.add_argument("file", type=Path)
    model_argument(predict, registry=True)
    predict.add_argument("--out", type=Path, help="write JSON lines here (default: stdout)")
    predict.add_argument("--text-column", help="CSV column holding the messages")
    predict.add_argument(
        "--explain",
        action="store_true",
        help="add the nearest training examples and the out-of-scope checks to each line",
    )
    predict.set_defaults(run=run_predict)


def run_init(args: argparse.Namespace) -> int:
    from training.scaffold import scaffold_project

    written = scaffold_project(args.directory)
    print(f"created a bot project in {args.directory} ({len(written)} files)")
    print(f"next: supportbot train {args.directory} --out {args.directory}/models/bot")
    return 0


def run_data(args: argparse.Namespace) -> int:
    from training.button_targets import check_button_targets
    from training.loader import load_project
    from training.validate import check_training_data

    project = load_project(args.path)
    check_training_data(project.data, project.config.training, project.problems)
    check_button_targets(project.data, project.config, project.problems)
    if not project.problems.errors:
        _check_confusable(project)
    for problem in project.problems.problems:
        print(problem)
    data = project.data
    errors, warnings = len(project.problems.errors), len(project.problems.warnings)
    print(
        f"{len(data.examples)} examples, {len(data.intents)} intents, {len(data.dialogues)} "
        f"dialogues, {len(data.articles)} articles: {errors} error(s), {warnings} warning(s)"
    )
    return 1 if errors else 0


def _check_confusable(project) -> None:
    """Thin intents that cross-validation confuses, with what (training/confusion_check.py)."""
    from retrieval.encoder import TextEncoder
    from training.confusion_check import check_confusable_intents

    encoder = TextEncoder()
    examples = project.data.examples
    check_confusable_intents(
        examples, encoder.encode, project.problems, project.config.training.seed
    )


def run_train(args: argparse.Namespace) -> int:
    from training.train import train_model

    train_model(args.path, args.out, progress=lambda line: print(line, flush=True))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.intent_classifier import IntentPrediction
    from retrieval.model_registry import resolve_model_dir
    from training.loader import load_messages

    texts = load_messages(args.file, text_column=args.text_column)
    model = BotModel.load(resolve_model_dir(args.model))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for start in range(0, len(texts), 256):
            batch = texts[start : start + 256]
            results: list[tuple[IntentPrediction, dict | None]] = (
                list(model.explain(batch))
                if args.explain
                else [(a.prediction, None) for a in model.analyse(batch)]
            )
            for text, (prediction, why) in zip(batch, results, strict=True):
                line = {"text": text, **prediction.to_json()}
                if why is not None:
                    line["explanation"] = why
                out.write(json.dumps(line) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
