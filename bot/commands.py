"""What each `supportbot` sub-command does. Training modules are imported inside the
commands that need them, so `serve` never loads training code."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from bot.learning_commands import (  # noqa: F401  (sub-commands found by name)
    run_discover,
    run_labels,
    run_models,
    run_retrain,
    run_review,
)
from supportbot.errors import SupportbotError

DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "banking_demo"


def run_init(args: argparse.Namespace) -> int:
    from training.scaffold import scaffold_project

    written = scaffold_project(args.directory)
    print(f"created a bot project in {args.directory} ({len(written)} files)")
    print(f"next: supportbot train {args.directory} --out {args.directory}/models/bot")
    return 0


def run_data(args: argparse.Namespace) -> int:
    from training.loader import load_project
    from training.validate import check_training_data

    project = load_project(args.path)
    check_training_data(project.data, project.config.training, project.problems)
    for problem in project.problems.problems:
        print(problem)
    data = project.data
    errors, warnings = len(project.problems.errors), len(project.problems.warnings)
    print(
        f"{len(data.examples)} examples, {len(data.intents)} intents, {len(data.dialogues)} "
        f"dialogues, {len(data.articles)} articles: {errors} error(s), {warnings} warning(s)"
    )
    return 1 if errors else 0


def run_train(args: argparse.Namespace) -> int:
    from training.train import train_model

    train_model(args.path, args.out, progress=lambda line: print(line, flush=True))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir
    from training.loader import load_messages

    texts = load_messages(args.file, text_column=args.text_column)
    model = BotModel.load(resolve_model_dir(args.model))
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for start in range(0, len(texts), 256):
            batch = texts[start : start + 256]
            if args.explain:
                results = model.explain(batch)
            else:
                results = [(a.prediction, None) for a in model.analyse(batch)]
            for text, (prediction, why) in zip(batch, results, strict=True):
                line = {"text": text, **prediction.to_json()}
                if why is not None:
                    line["explanation"] = why
                out.write(json.dumps(line) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_model

    summary = evaluate_model(args.model, args.file, args.out, args.text_column, args.label_column)
    print(json.dumps(summary, indent=2))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from bot.model_swap import ModelHolder, serving_model
    from bot.server import freeze_loaded_objects, refreeze_loaded_objects, single_threaded_math

    model = serving_model(args.model)
    single_threaded_math()
    freeze_loaded_objects()
    if isinstance(model, ModelHolder):
        model.after_swap = refreeze_loaded_objects
    asyncio.run(_serve(model, args.host, args.port, args.db))
    return 0


def run_kb(args: argparse.Namespace) -> int:
    from bot import kb_commands

    return getattr(kb_commands, f"run_{args.kb_command}")(args)


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


async def _serve(model, host: str, port: int, db: str) -> None:
    from aiohttp import web

    from bot.admission import drain
    from bot.server import AppDeps, create_app
    from bot.store import SQLiteConversationStore

    store = SQLiteConversationStore(db)
    settings = _server_settings(model)
    app = create_app(settings, AppDeps(model, store))
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout_seconds)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise SupportbotError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    print(f"supportbot serving {model.version} on http://{host}:{port} (log: {db})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    print("shutting down: finishing in-flight turns", flush=True)
    await drain(app, settings.shutdown_timeout_seconds)
    await runner.cleanup()


def _server_settings(model, channels: bool = True):
    """Moderation and privacy settings from the model's training config; the admin token
    from the environment (SUPPORTBOT_ADMIN_TOKEN), never from a file in the project."""
    import os

    from bot.action_stage import actions_from_config
    from bot.channels.slack_config import settings_from_config
    from bot.server import ServerSettings
    from supportbot.config import ModerationConfig, PrivacyConfig, ServerConfig
    from supportbot.config.channels import WebchatSettings
    from supportbot.config.dialogue import DialogueConfig

    config = model.manifest.config or {}
    return ServerSettings(
        moderation=ModerationConfig.model_validate(config.get("moderation") or {}),
        privacy=PrivacyConfig.model_validate(config.get("privacy") or {}),
        admin_token=os.environ.get("SUPPORTBOT_ADMIN_TOKEN") or None,
        dialogue=DialogueConfig.model_validate(config.get("dialogue") or {}),
        actions=actions_from_config(config.get("actions")),
        slack=settings_from_config(config.get("channels")) if channels else None,
        webchat=WebchatSettings.model_validate((config.get("channels") or {}).get("webchat") or {}),
        trusted_proxies=ServerConfig.model_validate(config.get("server") or {}).trusted_proxies,
    )


def run_forget(args: argparse.Namespace) -> int:
    """Exit 0 when done (also when nothing was held for the sender), 1 on a bad log file."""
    if args.db == ":memory:" or not Path(args.db).is_file():
        raise SupportbotError(f"{args.db}: no conversation log at this path")
    report = asyncio.run(_forget(args.db, args.sender, args.actor))
    if report.conversations == 0 and report.turns == 0:
        print(f"no conversations held for this sender (audit entry {report.audit_id})")
    else:
        print(
            f"deleted {report.conversations} conversation(s), {report.turns} turn(s), "
            f"{report.training_rows} training row(s), {report.retrieval_entries} retrieval "
            f"entr{'y' if report.retrieval_entries == 1 else 'ies'} (audit entry {report.audit_id})"
        )
    return 0


async def _forget(db: str, sender: str, actor: str):
    from bot.privacy import forget_sender
    from bot.store import SQLiteConversationStore

    store = await SQLiteConversationStore.open(db)
    try:
        return await forget_sender(store, sender, f"cli:{actor}")
    finally:
        await store.close()


def run_chat(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir

    model = BotModel.load(resolve_model_dir(args.model))
    asyncio.run(_chat(model, args.db))
    return 0


async def _chat(model, db: str) -> None:
    """The server's dialogue runtime (moderation, state, handoff, forms) on the terminal."""
    from bot.channels.base import InboundMessage
    from bot.server import AppDeps, dialogue_runtime
    from bot.store import SQLiteConversationStore

    store = SQLiteConversationStore(db)
    loop = asyncio.get_running_loop()
    settings = _server_settings(model, channels=False)
    async with dialogue_runtime(settings, AppDeps(model, store)) as runtime:
        print(f"chatting with {model.version}; Ctrl-D to quit")
        while True:
            try:
                text = await loop.run_in_executor(None, input, "you> ")
            except EOFError:
                break
            message = InboundMessage("terminal", text, "terminal")
            for reply in await runtime.manager.handle(message):
                buttons = "".join(f"\n   [{b.title}] -> {b.payload}" for b in reply.buttons)
                print(f"bot> {reply.text}{buttons}")


def run_handoff(args: argparse.Namespace) -> int:
    from bot.handoff_commands import run_handoff_command

    return run_handoff_command(args)
