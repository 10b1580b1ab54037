"""A real `supportbot serve --db postgresql://...` on loopback: turns answered and logged in
PostgreSQL; a database whose schema is behind is refused before the server listens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import aiohttp

from bot.store.postgres import PostgresDatabase
from bot.store.schema_versions import latest_version, upgrade
from supportbot.testing import free_port
from tests.test_graceful_shutdown import REPO, WEBHOOK, wait_healthy


def _serve(model: Path, port: int, url: str, log_path: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "supportbot.cli", "serve", "--model", str(model)]
    command += ["--port", str(port), "--db", url]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=log_file)


async def test_serve_on_postgres_logs_every_turn(tiny_model_dir, pg_url, tmp_path):
    db = PostgresDatabase(pg_url)
    upgrade(db)
    db.close()
    port, log_path = free_port(), tmp_path / "serve.log"
    process = _serve(tiny_model_dir, port, pg_url, log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process, log_path)
        async with aiohttp.ClientSession() as session:
            for message in ("hello", "where is my order?", "thanks"):
                body = {"sender": "pg-customer", "message": message}
                async with session.post(url + WEBHOOK, json=body) as response:
                    assert response.status == 200
                    assert (await response.json())[0]["text"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    db = PostgresDatabase(pg_url)
    rows = db.execute(
        "SELECT message FROM turns WHERE conversation_id = ? ORDER BY id", ["pg-customer"]
    ).fetchall()
    states = db.execute("SELECT count(*) FROM conversation_state").fetchone()
    db.close()
    assert [message for (message,) in rows] == ["hello", "where is my order?", "thanks"]
    assert states == (1,)


def test_serve_refuses_a_schema_behind(tiny_model_dir, pg_url, tmp_path):
    port, log_path = free_port(), tmp_path / "serve.log"
    process = _serve(tiny_model_dir, port, pg_url, log_path)
    assert process.wait(timeout=60) == 1
    assert log_path.read_text().splitlines()[-1] == (
        f"error: {pg_url}: the database schema is at version 0, this release needs version "
        f"{latest_version()}; run `supportbot db upgrade --db URL` first"
    )
