"""Agents for tests against a live server: an account in the log file, signed in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.agents.accounts import add_agent
from bot.agents.sessions import CSRF_HEADER
from bot.agents.tables import open_agent_db
from supportbot.testing import free_port


def create_agent(db_path: Path, name: str, display_name: str | None = None) -> str:
    """The account's secret; the tables are created in the log file when missing."""
    db = open_agent_db(db_path)
    try:
        return add_agent(db, name, "agent", display_name)
    finally:
        db.conn.close()


@dataclass
class SignedInAgent:
    """A console session: the cookie lives in `session`, POSTs send the CSRF token."""

    session: aiohttp.ClientSession
    url: str
    csrf: str

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {CSRF_HEADER: self.csrf}
        async with self.session.post(self.url + path, json=body or {}, headers=headers) as r:
            return r.status, await r.json()

    async def get(self, path: str) -> tuple[int, dict]:
        async with self.session.get(self.url + path) as response:
            return response.status, await response.json()


async def sign_in(
    session: aiohttp.ClientSession, url: str, name: str, secret: str
) -> SignedInAgent:
    body = {"name": name, "secret": secret}
    async with session.post(url + "/agent/api/login", json=body) as response:
        assert response.status == 200, await response.text()
        return SignedInAgent(session, url, (await response.json())["csrf"])


@dataclass
class DeskWebhook:
    """An external help desk on loopback that acknowledges every handoff it is sent."""

    url: str
    received: list[dict]


@asynccontextmanager
async def acknowledging_desk() -> AsyncIterator[DeskWebhook]:
    received: list[dict] = []

    async def take(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"status": "queued"})

    app = web.Application()
    app.router.add_post("/handoff", take)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield DeskWebhook(f"http://127.0.0.1:{port}/handoff", received)
    finally:
        await runner.cleanup()
