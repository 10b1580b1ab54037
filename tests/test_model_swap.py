"""Model versions and hot swap: a registry on disk, `supportbot models`, and a real server
that moves to a promoted version under concurrent load without failing a request."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from pathlib import Path

import aiohttp
import pytest
import sqlite_utils

from bot.server.model_swap import ModelHolder
from bot.server.settings import ServerSettings
from retrieval.model_registry import ModelRegistry
from supportbot.cli import main
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "swap-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MESSAGES = ["where is my order?", "I want to return my shoes", "hi", "my card was declined"]


def make_version(source: Path, root: Path, version: str) -> Path:
    """A registry version that shares the trained files (hard links) but has its own
    manifest name; the manifest is not among the checksummed files."""
    target = root / "versions" / version
    shutil.copytree(source, target, copy_function=os.link)
    manifest = json.loads((target / "manifest.json").read_text())
    (target / "manifest.json").unlink()
    manifest["version"] = version
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture
def registry(tiny_model_dir, tmp_path) -> ModelRegistry:
    root = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(tiny_model_dir, root, version)
    registry = ModelRegistry(root)
    registry.promote("v1")
    return registry


def test_models_cli_lists_promotes_and_rolls_back(registry, capsys):
    root = str(registry.root)
    assert main(["models", "promote", "v2", "--models", root]) == 0
    assert capsys.readouterr().out == "current: v2\n"
    assert registry.current_version() == "v2"
    assert main(["models", "list", "--models", root, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["current"]) for v in listed] == [("v1", False), ("v2", True)]
    assert main(["models", "rollback", "--models", root]) == 0
    assert capsys.readouterr().out == "rolled back; current: v1\n"
    assert registry.current_version() == "v1"
    assert main(["models", "rollback", "--models", root]) == 1
    assert capsys.readouterr().err == (
        f"error: {root}: no earlier promoted version to roll back to\n"
    )
    assert main(["models", "promote", "v9", "--models", root]) == 1
    assert capsys.readouterr().err == f"error: {root}: no model version 'v9'\n"
    assert [e["event"] for e in registry.history()] == ["promote", "promote", "rollback"]


async def send(session, url: str, sender: str, text: str) -> tuple[int, list]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": text}) as response:
        return response.status, await response.json()


async def test_running_server_swaps_to_a_promoted_version_under_load(
    registry, tiny_model, tmp_path
):
    holder = ModelHolder(tiny_model, registry, poll_seconds=0.2)
    settings = ServerSettings(admin_token=TOKEN)
    results: list[tuple[int, list]] = []
    stop = asyncio.Event()

    async def client(session, url: str, index: int) -> None:
        sent = 0
        while not stop.is_set():
            text = MESSAGES[(index + sent) % len(MESSAGES)]
            # A new sender per message: one sender sending back to back would soon be
            # answered by the per-sender rate limit, and rate-limited turns are not logged.
            results.append(await send(session, url, f"load-{index}-{sent}", text))
            sent += 1

    async with live_server(holder, tmp_path / "log.db", settings) as live:  # type: ignore[arg-type]
        async with aiohttp.ClientSession() as session:
            clients = [asyncio.create_task(client(session, live.url, i)) for i in range(6)]
            await asyncio.sleep(0.5)
            registry.promote("v2")
            deadline = time.monotonic() + 60
            while holder.loaded != "v2":
                assert time.monotonic() < deadline, "the server did not follow the promotion"
                await asyncio.sleep(0.1)
            served_at_swap = len(results)
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*clients)
            async with session.get(live.url + "/version") as response:
                assert (await response.json())["model"] == "v2"
            async with session.post(live.url + "/admin/models/reload") as response:
                assert response.status == 401
            async with session.post(live.url + "/admin/models/reload", headers=AUTH) as response:
                assert await response.json() == {"model": "v2", "changed": False}

    assert len(results) > served_at_swap > 0
    assert all(status == 200 and body for status, body in results)
    rows = list(sqlite_utils.Database(tmp_path / "log.db")["turns"].rows_where(order_by="id"))
    assert not [row for row in rows if row["action"] == "error"]
    versions = [row["model_version"] for row in rows]
    assert versions[0] == tiny_model.version and versions[-1] == "v2"
    first_new = versions.index("v2")
    assert set(versions[first_new:]) == {"v2"}, "an old-model turn after the swap"


async def test_after_swap_runs_once_per_swap(registry, tiny_model):
    holder = ModelHolder(tiny_model, registry)
    swaps: list[str] = []
    holder.after_swap = lambda: swaps.append(holder.loaded)
    assert await holder.reload() is False
    registry.promote("v2")
    assert await holder.reload() is True
    assert await holder.reload() is False
    assert swaps == ["v2"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
async def test_a_promoted_version_gets_its_own_encoder_process_and_the_old_one_stops(registry):
    import gc

    from bot.server.model_swap import serving_model

    holder = serving_model(registry.root)
    old_child = holder.current.encoder.pid
    try:
        registry.promote("v2")
        assert await holder.reload()
        new_child = holder.current.encoder.pid
        assert new_child not in (None, old_child)
        gc.collect()  # as `supportbot serve` does after a swap (refreeze_loaded_objects)
        deadline = time.monotonic() + 10
        while _alive(old_child) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not _alive(old_child)
        assert [a.prediction.intent for a in holder.analyse(["where is my order?"])] == [
            "order_status"
        ]
    finally:
        holder.current.encoder.close()


def _alive(pid: int) -> bool:
    """A child not yet reaped shows as a zombie; that counts as stopped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
