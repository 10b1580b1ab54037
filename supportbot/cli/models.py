"""`supportbot models list|add|promote|rollback`: the kept model versions of a registry and
which one is served."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list, add, promote or roll back model versions")
    model_actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = model_actions.add_parser("list", help="versions with their scores")
    listing.add_argument("--json", action="store_true")
    add = model_actions.add_parser("add", help="copy a trained model directory in as a version")
    add.add_argument("model_dir", type=Path)
    add.add_argument("--promote", action="store_true")
    promote = model_actions.add_parser("promote", help="serve a version")
    promote.add_argument("version")
    rollback = model_actions.add_parser("rollback", help="serve the previously promoted version")
    for action in (listing, add, promote, rollback):
        action.add_argument("--models", type=Path, required=True, metavar="ROOT")
    models.set_defaults(run=run_models)


def run_models(args: argparse.Namespace) -> int:
    from retrieval.model_registry import ModelRegistry

    registry = ModelRegistry(args.models)
    if args.models_command == "list":
        _print_versions(registry, args.json)
    elif args.models_command == "add":
        import shutil
        import tempfile

        from retrieval.model_dir import read_manifest

        read_manifest(args.model_dir)
        args.models.mkdir(parents=True, exist_ok=True)
        copy = Path(tempfile.mkdtemp(prefix=".adding-", dir=args.models)) / "model"
        shutil.copytree(args.model_dir, copy)
        version = registry.add(copy)
        shutil.rmtree(copy.parent, ignore_errors=True)
        if args.promote:
            registry.promote(version, reason="add")
        print(f"added {version}" + (" (current)" if args.promote else ""))
    elif args.models_command == "promote":
        registry.promote(args.version, reason="manual")
        print(f"current: {args.version}")
    else:
        print(f"rolled back; current: {registry.rollback()}")
    return 0


def _print_versions(registry, as_json: bool) -> None:
    versions = registry.versions()
    if as_json:
        print(json.dumps([v.to_json() for v in versions], indent=2))
        return
    if not versions:
        print(f"no model versions in {registry.root}")
    for v in versions:
        scores = v.evaluation or {}
        shown = ", ".join(
            f"{k} {scores[k]}"
            for k in ("accuracy", "top_intent_accuracy", "macro_f1")
            if k in scores
        )
        marker = "*" if v.current else " "
        print(f"{marker} {v.version}  {v.created_at}  {shown or 'not evaluated'}")
