"""SIGTERM to a real `python -m supportbot.cli serve` while slow turns are in flight: every
admitted request gets its answer, a new one gets 503 with Retry-After, every answered
turn is in the SQLite log, and the process exits 0."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import sqlite_utils

from bot.server.admission import CLOSING
from supportbot.testing import free_port

REPO = Path(__file__).resolve().parents[1]
WEBHOOK = "/webhooks/rest/webhook"
SLOW_ACTION = {
    "kind": "local",
    "package": "tests.action_fixtures",
    "intents": {"order_status": "action_slow"},
}
"""`action_slow` sleeps 3 s (tests/action_fixtures/misbehaving.py) and then says "finally"."""


def with_slow_action(model_dir: Path) -> Path:
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["config"]["actions"] = SLOW_ACTION
    manifest_path.write_text(json.dumps(manifest))
    return model_dir


async def wait_healthy(
    url: str, process: subprocess.Popen, log_path: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, log_path.read_text()
            try:
                async with session.get(url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not healthy within {timeout}s")


async def post(url: str, sender: str, message: str):
    async with aiohttp.ClientSession() as session:
        body = {"sender": sender, "message": message}
        async with session.post(url + WEBHOOK, json=body) as response:
            return response.status, response.headers.get("Retry-After"), await response.json()


async def test_sigterm_finishes_in_flight_turns_and_logs_them(model_dir_copy, tmp_path):
    model = with_slow_action(model_dir_copy)
    port, db = free_port(), tmp_path / "log.db"
    command = [sys.executable, "-m", "supportbot.cli", "serve", "--model", str(model)]
    command += ["--port", str(port), "--db", str(db)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(url, process, log_path)
        slow = [asyncio.create_task(post(url, f"s{i}", "where is my order?")) for i in range(3)]
        await asyncio.sleep(1.0)
        assert not any(task.done() for task in slow)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        late = await post(url, "late", "hello")
        assert late == (503, "1", {"error": CLOSING, "status": 503})
        answers = await asyncio.gather(*slow)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log_path.read_text()
    assert answers == [
        (200, None, [{"recipient_id": f"s{i}", "text": "finally"}]) for i in range(3)
    ], output
    assert "shutting down: finishing in-flight turns" in output
    rows = list(sqlite_utils.Database(db)["turns"].rows_where(order_by="conversation_id"))
    assert [(row["conversation_id"], row["action"]) for row in rows] == [
        ("s0", "action"),
        ("s1", "action"),
        ("s2", "action"),
    ]
