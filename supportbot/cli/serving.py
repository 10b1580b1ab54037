"""`supportbot serve` and `supportbot chat`: the bot over HTTP, or in the terminal, with the
same dialogue runtime."""

from __future__ import annotations

import argparse
import asyncio
import signal

from supportbot.cli.arguments import model_argument, server_arguments
from supportbot.errors import ConfigError, SupportbotError


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve a trained bot over HTTP")
    model_argument(serve, registry=True)
    server_arguments(serve)
    serve.add_argument(
        "--require-rest-token",
        action="store_true",
        help="refuse to start unless the REST channel's token is set (channels.rest.token_env)",
    )
    serve.add_argument(
        "--expose-parse",
        action="store_true",
        help="debug: serve /model/parse without the admin token (never on a public address)",
    )
    serve.set_defaults(run=run_serve)

    chat = commands.add_parser("chat", help="talk to a trained bot in the terminal")
    model_argument(chat, registry=True)
    chat.add_argument("--db", default=":memory:", help="conversation log (default: not kept)")
    chat.set_defaults(run=run_chat)


def run_serve(args: argparse.Namespace) -> int:
    from bot.server.model_swap import ModelHolder, serving_model
    from bot.server.process import (
        freeze_loaded_objects,
        refreeze_loaded_objects,
        single_threaded_math,
    )

    model = serving_model(args.model)
    single_threaded_math()
    freeze_loaded_objects()
    if isinstance(model, ModelHolder):
        model.after_swap = refreeze_loaded_objects
    settings = server_settings(model)
    settings.expose_parse = args.expose_parse
    if args.require_rest_token and not settings.rest_token:
        raise ConfigError(
            f"channels.rest.token_env: --require-rest-token is given but the environment "
            f"variable {rest_token_variable(model)} is not set"
        )
    asyncio.run(_serve(model, settings, args.host, args.port, args.db))
    return 0


def rest_token_variable(model) -> str:
    from supportbot.config import ChannelsConfig

    config = model.manifest.config or {}
    return ChannelsConfig.model_validate(config.get("channels") or {}).rest.token_env


async def _serve(model, settings, host: str, port: int, db: str) -> None:
    from aiohttp import web

    from bot.server.admission import LINGERING_SECONDS, drain
    from bot.server.app import create_app
    from bot.server.settings import AppDeps
    from bot.store.conversation_log import SQLiteConversationStore

    store = SQLiteConversationStore(db)
    app = create_app(settings, AppDeps(model, store))
    runner = web.AppRunner(
        app,
        shutdown_timeout=settings.shutdown_timeout_seconds,
        keepalive_timeout=settings.header_timeout_seconds,
        lingering_time=LINGERING_SECONDS,
    )
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


def server_settings(model, channels: bool = True):
    """Moderation and privacy settings from the model's training config; the admin token
    from the environment (SUPPORTBOT_ADMIN_TOKEN), never from a file in the project."""
    import os

    from bot.channels.slack.settings import settings_from_config
    from bot.dialogue.stages.actions import actions_from_config
    from bot.server.settings import ServerSettings
    from supportbot.config import ChannelsConfig, ModerationConfig, PrivacyConfig, ServerConfig
    from supportbot.config.dialogue import DialogueConfig

    config = model.manifest.config or {}
    server = ServerConfig.model_validate(config.get("server") or {})
    channel_config = ChannelsConfig.model_validate(config.get("channels") or {})
    return ServerSettings(
        moderation=ModerationConfig.model_validate(config.get("moderation") or {}),
        privacy=PrivacyConfig.model_validate(config.get("privacy") or {}),
        admin_token=os.environ.get("SUPPORTBOT_ADMIN_TOKEN") or None,
        rest_token=os.environ.get(channel_config.rest.token_env) or None,
        dialogue=DialogueConfig.model_validate(config.get("dialogue") or {}),
        actions=actions_from_config(config.get("actions")),
        slack=settings_from_config(config.get("channels")) if channels else None,
        webchat=channel_config.webchat,
        trusted_proxies=server.trusted_proxies,
        body_timeout_seconds=server.body_timeout_seconds,
        slow_bodies_per_client=server.slow_bodies_per_client,
        header_timeout_seconds=server.header_timeout_seconds,
        metrics=server.metrics,
    )


def run_chat(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir

    model = BotModel.load(resolve_model_dir(args.model))
    asyncio.run(_chat(model, args.db))
    return 0


async def _chat(model, db: str) -> None:
    """The server's dialogue runtime (moderation, state, handoff, forms) on the terminal."""
    from bot.channels.base import InboundMessage
    from bot.server.runtime import dialogue_runtime
    from bot.server.settings import AppDeps
    from bot.store.conversation_log import SQLiteConversationStore

    store = SQLiteConversationStore(db)
    loop = asyncio.get_running_loop()
    settings = server_settings(model, channels=False)
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
