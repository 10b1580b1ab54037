"""Shared fixtures. The expensive ones (a trained bot) are built once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.bot_model import BotModel
from supportbot.testing import train_tiny_bot
from supportbot.testing.postgres import PostgresServer, running_server


@pytest.fixture(scope="session", autouse=True)
def private_export_cache(tmp_path_factory: pytest.TempPathFactory):
    """Encoder exports cached for this session only (training/onnx_cache.py), never in
    the user's home: tests share the exports they make, and start with none."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPPORTBOT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bot trained once per session from the `supportbot init` example project."""
    return train_tiny_bot(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def model_dir_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model directory, for tests that modify or break it."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> BotModel:
    """The tiny bot loaded once; read-only, shared by the server tests."""
    return BotModel.load(tiny_model_dir)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a temporary folder, so problems name files relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (supportbot/testing/postgres.py)."""
    with running_server() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server, for one test."""
    return postgres_server.fresh_database()
