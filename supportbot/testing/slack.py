"""A local fake of the Slack Web API and of Socket Mode, for tests of the Slack channel.

An aiohttp server on a free loopback port answers `chat.postMessage`, `chat.update`,
`auth.test` and `apps.connections.open` the way Slack does, records every call (method,
body, Authorization header), and serves a Socket Mode WebSocket that can push envelopes
and records the acknowledgements. Point `channels.slack.api_url` at `FakeSlack.api_url`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from bot.channels.slack.verify import sign
from supportbot.testing import free_port

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
SIGNING_SECRET = "fake-signing-secret"
TEAM_ID = "T0FAKE"
BOT_USER_ID = "U0BOT"


@dataclass
class SlackCall:
    method: str
    body: dict
    authorization: str | None


@dataclass
class FakeSlack:
    """What the fake saw; `wait_for` polls, so tests never sleep for a fixed time."""

    api_url: str = ""
    calls: list[SlackCall] = field(default_factory=list)
    acks: list[dict] = field(default_factory=list)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: int = 0

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[SlackCall]:
        """The calls to `method` once there are at least `count`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while len(self.calls_to(method)) < count:
            if time.monotonic() > deadline:
                seen = len(self.calls_to(method))
                raise AssertionError(f"{method}: {seen} call(s), expected {count}")
            await asyncio.sleep(0.02)
        return self.calls_to(method)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while all(ack.get("envelope_id") != envelope_id for ack in self.acks):
            if time.monotonic() > deadline:
                raise AssertionError(f"no Socket Mode ack for envelope {envelope_id}")
            await asyncio.sleep(0.02)

    async def push(self, envelope: dict, timeout: float = 10.0) -> None:
        """Send a Socket Mode envelope once the bot has connected."""
        deadline = time.monotonic() + timeout
        while not self.sockets:
            if time.monotonic() > deadline:
                raise AssertionError("the bot never opened a Socket Mode connection")
            await asyncio.sleep(0.02)
        await self.sockets[-1].send_str(json.dumps(envelope))

    def next_ts(self) -> str:
        self._ts += 1
        return f"1700000000.{self._ts:06d}"


def _response(fake: FakeSlack, call: SlackCall, request: web.Request) -> dict:
    if call.method == "auth.test":
        if call.authorization != f"Bearer {BOT_TOKEN}":
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True, "user_id": BOT_USER_ID, "team_id": TEAM_ID, "bot_id": "B0BOT"}
    if call.method == "apps.connections.open":
        url = f"ws://{request.host}/socket-mode"
        return (
            {"ok": True, "url": url}
            if call.authorization == f"Bearer {APP_TOKEN}"
            else {
                "ok": False,
                "error": "invalid_auth",
            }
        )
    if call.method == "chat.postMessage":
        message = {**call.body, "ts": fake.next_ts(), "user": BOT_USER_ID}
        return {
            "ok": True,
            "channel": call.body.get("channel"),
            "ts": message["ts"],
            "message": message,
        }
    if call.method == "chat.update":
        return {"ok": True, "channel": call.body.get("channel"), "ts": call.body.get("ts")}
    return {"ok": False, "error": "unknown_method"}


def _api_handler(fake: FakeSlack):
    async def handler(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            body = await request.json()
        else:
            body = dict(await request.post())
        call = SlackCall(request.match_info["method"], body, request.headers.get("Authorization"))
        fake.calls.append(call)
        return web.json_response(_response(fake, call, request))

    return handler


def _socket_handler(fake: FakeSlack):
    async def handler(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        fake.sockets.append(socket)
        await socket.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                fake.acks.append(json.loads(message.data))
        return socket

    return handler


@asynccontextmanager
async def fake_slack() -> AsyncIterator[FakeSlack]:
    """Run the fake on a free loopback port until the block exits."""
    fake = FakeSlack()
    app = web.Application()
    app.router.add_post("/api/{method}", _api_handler(fake))
    app.router.add_get("/socket-mode", _socket_handler(fake))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.api_url = f"http://127.0.0.1:{port}/api/"
    try:
        yield fake
    finally:
        for socket in fake.sockets:
            await socket.close()
        await runner.cleanup()


def signed_headers(
    body: bytes,
    secret: str = SIGNING_SECRET,
    at: float | None = None,
    content_type: str = "application/json",
) -> dict:
    """Headers Slack would send with `body` at time `at` (default: now)."""
    timestamp = int(time.time() if at is None else at)
    return {"Content-Type": content_type, **sign(secret, body, timestamp)}


def interaction_form(payload: dict) -> bytes:
    """An interactivity request body: the payload JSON in a form field, as Slack posts it."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def event_callback(event: dict, event_id: str, team: str = TEAM_ID) -> dict:
    """An Events API `event_callback` envelope around `event`, as Slack posts it."""
    return {
        "type": "event_callback",
        "team_id": team,
        "api_app_id": "A0FAKE",
        "event": event,
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER_ID, "is_bot": True}],
    }
