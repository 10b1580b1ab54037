"""Back-pressure and draining through the real server: a bounded number of turns in
progress, 503 with Retry-After beyond it and while shutting down, and every admitted turn
answered and logged."""

from __future__ import annotations

import asyncio
import threading
import time

import aiohttp
import pytest
import sqlite_utils

from bot.app_keys import GATE
from bot.server.admission import BUSY, CLOSING, AdmissionGate, Rejected, drain
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"


class HeldModel:
    """The tiny bot whose analysis waits until the test lets it go, so turns pile up."""

    def __init__(self, model) -> None:
        self._model = model
        self.release = threading.Event()

    def analyse(self, texts, search=None):
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the model")
        return self._model.analyse(texts, search)

    def __getattr__(self, name: str):
        return getattr(self._model, name)


async def post(session: aiohttp.ClientSession, url: str, path: str, body: dict):
    async with session.post(url + path, json=body) as response:
        return response.status, response.headers.get("Retry-After"), await response.json()


def say(session: aiohttp.ClientSession, url: str, sender: str):
    body = {"sender": sender, "message": "where is my order?"}
    return asyncio.create_task(post(session, url, WEBHOOK, body))


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def logged(db_path) -> int:
    return sqlite_utils.Database(db_path)["turns"].count


async def test_requests_beyond_the_limit_get_503_with_retry_after(tiny_model, tmp_path):
    admitted, extra = 3, 2
    held = HeldModel(tiny_model)
    settings = ServerSettings(max_pending_turns=admitted, retry_after_seconds=7)
    busy = {"error": BUSY.format(limit=admitted), "status": 503}
    async with (
        live_server(held, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        try:
            tasks = [say(session, live.url, f"c{i}") for i in range(admitted + extra)]
            await wait_until(lambda: sum(task.done() for task in tasks) >= extra)
            await asyncio.sleep(0.1)
            early = [task.result() for task in tasks if task.done()]
            assert early == [(503, "7", busy)] * extra
            parse = await post(session, live.url, "/model/parse", {"text": "hi"})
            assert parse == (503, "7", busy)
            async with session.get(live.url + "/health") as health:
                assert health.status == 200
        finally:
            held.release.set()
        results = await asyncio.gather(*tasks)
        assert sorted(status for status, _, _ in results) == [200] * admitted + [503] * extra
        assert live.app[GATE].in_flight == 0
    assert logged(tmp_path / "log.db") == admitted


async def test_draining_finishes_admitted_turns_and_rejects_new_ones(tiny_model, tmp_path):
    held = HeldModel(tiny_model)
    settings = ServerSettings(retry_after_seconds=5)
    async with (
        live_server(held, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        try:
            tasks = [say(session, live.url, f"d{i}") for i in range(3)]
            await wait_until(lambda: live.app[GATE].in_flight == 3)
            draining = asyncio.create_task(drain(live.app, 10))
            await wait_until(lambda: live.app[GATE].closing)
            late = await post(session, live.url, WEBHOOK, {"sender": "late", "message": "hi"})
            assert late == (503, "5", {"error": CLOSING, "status": 503})
        finally:
            held.release.set()
        assert await draining is True
        results = await asyncio.gather(*tasks)
        assert [status for status, _, _ in results] == [200] * 3
        assert all(body and body[0]["text"] for _, _, body in results)
    assert logged(tmp_path / "log.db") == 3


async def test_gate_counts_and_gives_up_waiting_after_the_timeout() -> None:
    gate = AdmissionGate(max_pending=1, retry_after_seconds=2)
    async with gate.admit():
        with pytest.raises(Rejected) as busy:
            gate.enter()
        assert (busy.value.reason, busy.value.retry_after) == (BUSY.format(limit=1), 2)
        assert await gate.close(0.05) is False
        with pytest.raises(Rejected, match="server shutting down"):
            gate.enter()
    assert gate.in_flight == 0
    assert await gate.close(0.05) is True


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_pending_turns must be at least 1"):
        AdmissionGate(max_pending=0)
