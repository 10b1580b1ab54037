"""Web chat session limits on a real server and a real SQLite file: one client address may
open only so many sessions a minute (REST and WebSocket alike), other addresses are not
affected, and expired sessions are purged while the server runs, without any lookup."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import sqlite_utils

from bot.channels.webchat.limits import SessionLimitReached, SessionRateLimiter
from bot.channels.webchat.sessions import token_hash
from bot.server.settings import ServerSettings
from supportbot.config import BotConfig
from supportbot.config.channels import WebchatSettings
from supportbot.testing import live_server

LIMITED = (
    "too many new chat sessions from this client: at most 3 per minute "
    "(channels.webchat.sessions_per_minute)"
)


def session_rows(db) -> list[dict]:
    return list(sqlite_utils.Database(db)["webchat_sessions"].rows)


async def new_session(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientResponse:
    async with session.post(url + "/webchat/api/sessions") as response:
        await response.read()
        return response


async def test_a_client_over_its_session_limit_gets_429_and_others_do_not(tiny_model, tmp_path):
    settings = ServerSettings(webchat=WebchatSettings(sessions_per_minute=3))
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as local,
    ):
        created = [await new_session(local, live.url) for _ in range(3)]
        assert [r.status for r in created] == [201, 201, 201]
        async with local.post(live.url + "/webchat/api/sessions") as refused:
            assert refused.status == 429
            assert await refused.json() == {"error": LIMITED, "status": 429}
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
        async with local.ws_connect(live.url + "/webchat/ws") as ws:
            await ws.send_json({"type": "hello"})
            frame = await ws.receive_json(timeout=5)
            assert (frame["type"], frame["error"]) == ("error", LIMITED)
            assert 1 <= frame["retry_after"] <= 60
            token = (await created[0].json())["token"]
            await ws.send_json({"type": "hello", "token": token})
            welcome = await ws.receive_json(timeout=5)
            assert (welcome["type"], welcome["new"]) == ("welcome", False)

        other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=other) as elsewhere:
            assert (await new_session(elsewhere, live.url)).status == 201
            async with elsewhere.ws_connect(live.url + "/webchat/ws") as ws:
                await ws.send_json({"type": "hello"})
                welcome = await ws.receive_json(timeout=5)
                assert (welcome["type"], welcome["new"]) == ("welcome", True)
    assert len(session_rows(live.db_path)) == 5


async def test_expired_sessions_are_purged_without_a_lookup(tiny_model, tmp_path):
    webchat = WebchatSettings(session_ttl_days=1.0, session_purge_interval_seconds=0.2)
    db = tmp_path / "log.db"
    async with (
        live_server(tiny_model, db, ServerSettings(webchat=webchat)) as live,
        aiohttp.ClientSession() as session,
    ):
        fresh = await (await new_session(session, live.url)).json()
        stale_hash = token_hash("a token nobody presents again")
        two_days_ago = time.time() - 2 * 86400
        database = sqlite_utils.Database(db)
        with database.conn:
            database.execute(
                "INSERT INTO webchat_sessions VALUES (?, ?, ?, ?)",
                [stale_hash, "webchat-stale", two_days_ago, two_days_ago],
            )
        database.conn.close()
        deadline = time.monotonic() + 5
        while stale_hash in {r["token_hash"] for r in session_rows(db)}:
            assert time.monotonic() < deadline, "the expired session was not purged"
            await asyncio.sleep(0.1)
        assert [r["token_hash"] for r in session_rows(db)] == [token_hash(fresh["token"])]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "webchat-purge"]


def test_the_limiter_slides_its_window_per_client():
    now = [1000.0]
    limiter = SessionRateLimiter(2, clock=lambda: now[0], max_clients=2)
    limiter.admit("a")
    now[0] += 10
    limiter.admit("a")
    with pytest.raises(SessionLimitReached) as refused:
        limiter.admit("a")
    assert (refused.value.status, refused.value.retry_after) == (429, 50)
    now[0] += 50
    limiter.admit("a")  # the first session left the window
    limiter.admit("b")
    limiter.admit("c")  # "a", least recently seen, is forgotten: memory stays bounded
    limiter.admit("a")
    limiter.admit("a")


def test_session_limit_settings_are_validated_with_their_key_path():
    with pytest.raises(ValueError) as bad:
        BotConfig.model_validate({"channels": {"webchat": {"sessions_per_minute": 0}}})
    [problem] = bad.value.errors()
    assert problem["loc"] == ("channels", "webchat", "sessions_per_minute")
    assert problem["msg"] == "Input should be greater than or equal to 1"
    with pytest.raises(ValueError) as bad:
        BotConfig.model_validate({"channels": {"webchat": {"session_purge_interval_seconds": 0}}})
    [problem] = bad.value.errors()
    assert problem["loc"] == ("channels", "webchat", "session_purge_interval_seconds")
    assert WebchatSettings().sessions_per_minute == 10
