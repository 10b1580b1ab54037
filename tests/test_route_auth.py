"""Every route that is not the customer's own refuses a missing or wrong credential.

The console and analytics pages themselves are static files with no data (they ask for a
credential before they fetch anything), and `/agent/api/login` is how a credential is
given; everything those pages fetch is checked here, on one live server."""

from __future__ import annotations

import aiohttp

from bot.agents import api
from bot.server import auth
from bot.server.settings import ServerSettings
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent

ADMIN_TOKEN = "s3cret-admin-token"
CONVERSATION = "/agent/api/conversations/someone"
AGENT_ROUTES = [
    ("POST", "/agent/api/logout"),
    ("GET", "/agent/api/me"),
    ("GET", "/agent/api/events"),
    ("GET", "/agent/api/conversations"),
    ("GET", CONVERSATION),
    *[
        ("POST", f"{CONVERSATION}/{action}")
        for action in ("claim", "messages", "release", "resolve", "notes", "transfer")
    ],
]
ADMIN_ROUTES = [
    ("GET", "/metrics"),
    ("GET", "/admin/analytics/report"),
    ("POST", "/agent/api/external/conversations/someone/messages"),
    ("POST", "/agent/api/external/conversations/someone/release"),
]


async def status_and_error(session, method, url, headers=None):
    async with session.request(method, url, json={}, headers=headers or {}) as response:
        return response.status, (await response.json())["error"]


async def test_agent_and_admin_routes_refuse_missing_and_wrong_credentials(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    secret = create_agent(db, "dana")
    settings = ServerSettings(admin_token=ADMIN_TOKEN)
    async with live_server(tiny_model, db, settings) as live, aiohttp.ClientSession() as session:
        wrong_agent = {"Authorization": f"Bearer dana:{secret}x"}
        wrong = []
        for method, path in AGENT_ROUTES:
            url = live.url + path
            assert await status_and_error(session, method, url) == (401, api.SIGN_IN), path
            wrong.append(await status_and_error(session, method, url, wrong_agent))
        # A wrong secret counts as a failed login: after five, the address waits.
        assert wrong[:5] == [(401, api.WRONG_SECRET)] * 5
        assert {status for status, _ in wrong[5:]} == {429}
        wrong_admin = {"Authorization": "Bearer not-the-token"}
        for method, path in ADMIN_ROUTES:
            url = live.url + path
            assert await status_and_error(session, method, url) == (
                401,
                auth.TOKEN_MISSING,
            ), path
            assert await status_and_error(session, method, url, wrong_admin) == (
                403,
                auth.TOKEN_INVALID,
            ), path
