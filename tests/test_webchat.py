"""The web chat channel without a browser: sessions, turns, history, feedback, handoff state
and frame validation over a real WebSocket and the REST fallback, on a real server and a
real SQLite file."""

from __future__ import annotations

import time

import aiohttp
import pytest
import sqlite_utils

from bot import messages
from bot.app_keys import GATE
from bot.channels.webchat import channel as webchat
from bot.server.admission import CLOSING
from bot.server.settings import ServerSettings
from supportbot.config import BotConfig
from supportbot.config.channels import WebchatSettings
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent, sign_in

TOKEN = webchat.TOKEN_HEADER


async def receive_until(ws, kind: str) -> list[dict]:
    """Frames up to and including the first of type `kind`."""
    frames = []
    while True:
        frame = await ws.receive_json(timeout=20)
        frames.append(frame)
        if frame["type"] == kind:
            return frames


async def hello(ws, token: str | None = None) -> dict:
    await ws.send_json({"type": "hello", "token": token})
    return (await receive_until(ws, "welcome"))[-1]


async def say(ws, text: str) -> tuple[dict, dict, list[str]]:
    """Send a message; returns (turn, state, the frame types seen)."""
    await ws.send_json({"type": "message", "text": text, "client_id": "c1"})
    frames = await receive_until(ws, "state")
    turn = next(f["turn"] for f in frames if f["type"] == "turn")
    return turn, frames[-1], [f["type"] for f in frames]


@pytest.fixture
async def served(tiny_model, tmp_path):
    async with live_server(tiny_model, tmp_path / "log.db") as live:
        async with aiohttp.ClientSession() as session:
            yield live, session


async def test_a_conversation_survives_reconnects_and_restarts(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    orders = {r.text for r in tiny_model.responses["order_status"]}
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        async with session.ws_connect(live.url + "/webchat/ws") as ws:
            first = await hello(ws)
            assert first["new"] is True and first["turns"] == []
            assert (first["title"], first["greeting"]) == (
                messages.WEBCHAT_TITLE,
                messages.GREETING,
            )
            turn, state, kinds = await say(ws, "where is my order?")
            assert kinds == ["typing", "typing", "turn", "state"]
            assert turn["customer"] == "where is my order?" and turn["client_id"] == "c1"
            assert turn["replies"][0]["text"] in orders
            assert turn["replies"][0]["buttons"][0] == {
                "title": "Track my order",
                "payload": "/order_status",
            }
            assert state == {"type": "state", "handed_off": False, "notice": None}
            clicked, _, _ = await say(ws, "/order_status")
            assert clicked["customer"] == "Track my order"
            await ws.send_json({"type": "feedback", "turn_id": turn["turn_id"], "value": "down"})
            await ws.send_json({"type": "feedback", "turn_id": turn["turn_id"], "value": "up"})
            await receive_until(ws, "feedback")
            assert await ws.receive_json(timeout=5) == {
                "type": "feedback",
                "turn_id": turn["turn_id"],
                "value": "up",
            }
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        async with session.ws_connect(live.url + "/webchat/ws") as ws:
            again = await hello(ws, first["token"])
            started = time.perf_counter()
        # the server closes open sockets on shutdown instead of waiting for them
    assert time.perf_counter() - started < 5
    assert again["new"] is False and again["token"] == first["token"]
    assert [t["customer"] for t in again["turns"]] == ["where is my order?", "Track my order"]
    assert again["turns"][0]["turn_id"] == turn["turn_id"]
    assert [t["feedback"] for t in again["turns"]] == ["up", None]
    rows = list(sqlite_utils.Database(db)["feedback"].rows)
    assert [(r["turn_id"], r["value"]) for r in rows] == [(turn["turn_id"], 1)]
    [session_row] = sqlite_utils.Database(db)["webchat_sessions"].rows
    assert first["token"] not in session_row.values()


async def test_bad_frames_get_an_error_naming_the_field_and_the_socket_stays(served):
    live, session = served
    async with session.ws_connect(live.url + "/webchat/ws") as ws:

        async def error_for(frame) -> str:
            await (ws.send_str(frame) if isinstance(frame, str) else ws.send_json(frame))
            reply = await ws.receive_json(timeout=5)
            assert reply["type"] == "error"
            return reply["error"]

        assert await error_for({"type": "message", "text": "hi"}) == webchat.HELLO_FIRST
        await hello(ws)
        assert await error_for("{nope") == "frame is not valid JSON"
        assert await error_for("[1]") == "frame must be a JSON object"
        assert await error_for({"type": "shout"}) == (
            'field "type" must be one of: hello, message, feedback, ping'
        )
        assert await error_for({"type": "hello"}) == webchat.HELLO_TWICE
        assert await error_for({"type": "message"}) == (
            'field "text" is required and must be a string'
        )
        assert await error_for({"type": "message", "text": "  "}) == 'field "text" is empty'
        assert await error_for({"type": "message", "text": "x" * 2001}) == (
            'field "text" is longer than 2000 characters'
        )
        assert await error_for({"type": "message", "text": "hi", "client_id": 5}) == (
            'field "client_id" must be a string'
        )
        assert await error_for({"type": "feedback", "turn_id": True, "value": "up"}) == (
            'field "turn_id" is required and must be a positive integer'
        )
        assert await error_for({"type": "feedback", "turn_id": 1, "value": ["up"]}) == (
            'field "value" must be "up" or "down"'
        )
        assert await error_for({"type": "feedback", "turn_id": 1, "value": "up"}) == (
            webchat.NO_SUCH_TURN
        )
        await ws.send_bytes(b"\x00")
        assert (await ws.receive_json(timeout=5))["error"] == "frames must be JSON text"
        await ws.send_json({"type": "ping"})
        assert await ws.receive_json(timeout=5) == {"type": "pong"}
        live.app[GATE].closing = True  # shutting down: a socket's turn is refused like HTTP's
        assert await error_for({"type": "message", "text": "hi"}) == CLOSING


async def test_nobody_rates_or_reads_another_conversation(served):
    live, session = served
    async with session.ws_connect(live.url + "/webchat/ws") as alice:
        await hello(alice)
        turn, _, _ = await say(alice, "hello")
        async with session.ws_connect(live.url + "/webchat/ws") as mallory:
            assert (await hello(mallory))["turns"] == []
            await mallory.send_json({"type": "feedback", "turn_id": turn["turn_id"], "value": "up"})
            assert await mallory.receive_json(timeout=5) == {
                "type": "error",
                "error": webchat.NO_SUCH_TURN,
            }
            await say(mallory, "thanks")
            # alice's socket saw nothing of mallory's turn
            await alice.send_json({"type": "ping"})
            assert await alice.receive_json(timeout=5) == {"type": "pong"}
    assert list(sqlite_utils.Database(live.db_path)["feedback"].rows) == []


async def test_rest_fallback_with_token_header_and_cors(served):
    live, session = served
    api = live.url + "/webchat/api"
    origin = {"Origin": "https://shop.example"}
    async with session.post(api + "/sessions", headers=origin) as response:
        assert response.status == 201
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
        token = (await response.json())["token"]
    async with session.post(api + "/messages", json={"text": "hi"}) as response:
        assert (response.status, await response.json()) == (
            401,
            {"error": webchat.TOKEN_MISSING, "status": 401},
        )
    async with session.post(api + "/messages", json={"text": "hi"}, headers={TOKEN: "x"}) as r:
        assert (r.status, (await r.json())["error"]) == (401, webchat.TOKEN_INVALID)
    auth = {TOKEN: token}
    async with session.post(api + "/messages", data=b"{", headers=auth) as response:
        assert (response.status, (await response.json())["error"]) == (
            400,
            "request body is not valid JSON",
        )
    async with session.post(api + "/messages", json={"text": "hello"}, headers=auth) as r:
        assert r.status == 200
        result = await r.json()
    assert result["state"] == {"handed_off": False, "notice": None}
    turn_id = result["turn"]["turn_id"]
    body = {"turn_id": turn_id, "value": "down"}
    async with session.post(api + "/feedback", json=body, headers=auth) as response:
        assert await response.json() == {"turn_id": turn_id, "value": "down"}
    async with session.get(api + "/history", headers=auth) as response:
        [turn] = (await response.json())["turns"]
    assert (turn["customer"], turn["feedback"]) == ("hello", "down")
    async with session.options(api + "/messages", headers=origin) as response:
        assert response.status == 204
        assert TOKEN in response.headers["Access-Control-Allow-Headers"]


async def test_handoff_is_shown_after_the_turn_and_on_replay(served):
    live, session = served
    secret = create_agent(live.db_path, "dana")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as console:
        await sign_in(console, live.url, "dana", secret)
    async with session.ws_connect(live.url + "/webchat/ws") as ws:
        token = (await hello(ws))["token"]
        turn, state, _ = await say(ws, "I want to talk to a human")
        assert [r["text"] for r in turn["replies"]] == [
            messages.HANDOFF_CONFIRMED,
            messages.HANDOFF_QUEUE_PLACE.format(place=1),
        ]
        assert state == {"type": "state", "handed_off": True, "notice": messages.WEBCHAT_HANDOFF}
        silent, _, _ = await say(ws, "hello?")
        assert silent["replies"] == [] and silent["turn_id"] is not None
    async with session.ws_connect(live.url + "/webchat/ws") as ws:
        again = await hello(ws, token)
    assert again["state"] == {"handed_off": True, "notice": messages.WEBCHAT_HANDOFF}


async def test_origins_static_files_and_demo_page(tiny_model, tmp_path):
    settings = ServerSettings(webchat=WebchatSettings(allowed_origins=["https://shop.example/"]))
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        refused = {"Origin": "https://evil.example"}
        async with session.post(live.url + "/webchat/api/sessions", headers=refused) as r:
            assert (r.status, (await r.json())["error"]) == (403, webchat.ORIGIN_REFUSED)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused_ws:
            await session.ws_connect(live.url + "/webchat/ws", headers=refused)
        assert refused_ws.value.status == 403
        for origin in ("https://shop.example", live.url):  # configured, and the bot's own
            async with session.ws_connect(
                live.url + "/webchat/ws", headers={"Origin": origin}
            ) as ws:
                assert (await hello(ws))["new"] is True
        async with session.get(live.url + "/webchat/widget.js") as response:
            assert response.status == 200
            assert "javascript" in response.headers["Content-Type"]
        async with session.get(live.url + "/") as response:
            assert '<script src="/webchat/widget.js"' in await response.text()
    off = ServerSettings(webchat=WebchatSettings(enabled=False))
    async with (
        live_server(tiny_model, tmp_path / "off.db", off) as live,
        aiohttp.ClientSession() as session,
    ):
        async with session.get(live.url + "/webchat/widget.js") as response:
            assert response.status == 404


def test_webchat_settings_are_validated_with_their_key_path():
    config = BotConfig.model_validate({"channels": {"webchat": {"title": "Help"}}})
    assert config.channels.webchat.title == "Help"
    with pytest.raises(ValueError) as bad:
        BotConfig.model_validate({"channels": {"webchat": {"allowed_origins": ["shop.example"]}}})
    [problem] = bad.value.errors()
    assert problem["loc"] == ("channels", "webchat", "allowed_origins")
    assert "'shop.example': expected '*' or an origin like https://host" in problem["msg"]


async def test_forgetting_the_customer_removes_their_session_and_state(tiny_model, tmp_path):
    from bot.store.conversation_log import SQLiteConversationStore
    from bot.store.privacy import forget_sender

    db = tmp_path / "log.db"
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        async with session.post(live.url + "/webchat/api/sessions") as response:
            token = (await response.json())["token"]
        headers = {TOKEN: token}
        async with session.post(
            live.url + "/webchat/api/messages", json={"text": "hi"}, headers=headers
        ) as r:
            assert r.status == 200
    [conversation] = [
        row["conversation_id"] for row in sqlite_utils.Database(db)["webchat_sessions"].rows
    ]
    store = await SQLiteConversationStore.open(str(db))
    try:
        report = await forget_sender(store, conversation, "test")
    finally:
        await store.close()
    assert report.turns == 1
    database = sqlite_utils.Database(db)
    assert list(database["webchat_sessions"].rows) == []
    assert (
        list(
            database.query(
                "SELECT * FROM conversation_state WHERE conversation_id = ?", [conversation]
            )
        )
        == []
    )
