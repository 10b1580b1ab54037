"""Test fixtures that plugin authors can reuse: a tiny trained bot and a live server.

Re-exported by tests/conftest.py. Everything here is real: a model trained from the
packaged encoder, a SQLite file, an aiohttp server on a free loopback port.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.server.admission import LINGERING_SECONDS
from bot.server.app import create_app
from bot.server.settings import AppDeps, ServerSettings
from bot.store.conversation_log import SQLiteConversationStore
from retrieval.bot_model import ServedModel


def train_tiny_bot(workdir: Path) -> Path:
    """Scaffold the `supportbot init` example project and train it; returns the model dir."""
    from training.scaffold import scaffold_project
    from training.train import train_model

    project = workdir / "tiny-bot"
    scaffold_project(project)
    model_dir = workdir / "tiny-model"
    train_model(project, model_dir, progress=lambda line: None)
    return model_dir


def write_file(folder: Path, name: str, text: str | bytes) -> Path:
    """Write a data file (creating folders) for a test; bytes are written as they are."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    db_path: Path
    app: web.Application


@asynccontextmanager
async def live_server(
    model: ServedModel, db_path: Path, settings: ServerSettings | None = None
) -> AsyncIterator[LiveServer]:
    """Serve `model` on a free loopback port until the block exits (then shut down cleanly)."""
    store = SQLiteConversationStore(db_path)
    settings = settings or ServerSettings()
    app = create_app(settings, AppDeps(model, store))
    runner = web.AppRunner(
        app,
        keepalive_timeout=settings.header_timeout_seconds,
        lingering_time=LINGERING_SECONDS,
    )
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", db_path, app)
    finally:
        await runner.cleanup()
