"""An agent taking over or releasing a conversation through the admin endpoint reaches the
customer's open web chat sockets at once, on a real server and a real SQLite file, and
only that conversation's sockets."""

from __future__ import annotations

import aiohttp
import sqlite_utils

from bot import messages
from bot.handoff.events import HandoffListeners
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

TOKEN = "push-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TAKEN = {
    "type": "handoff",
    "state": "agent",
    "handed_off": True,
    "notice": messages.WEBCHAT_HANDOFF,
}
RELEASED = {"type": "handoff", "state": "bot", "handed_off": False, "notice": None}


async def hello(ws, token: str | None = None) -> dict:
    await ws.send_json({"type": "hello", "token": token})
    return await ws.receive_json(timeout=5)


async def first_turn(ws) -> None:
    """The conversation exists for the admin endpoint once the customer has said something."""
    await ws.send_json({"type": "message", "text": "where is my order?"})
    while (await ws.receive_json(timeout=20))["type"] != "state":
        pass


async def handoff(session, url: str, conversation: str, action: str) -> None:
    endpoint = f"{url}/admin/conversations/{conversation}/handoff"
    async with session.post(endpoint, json={"action": action}, headers=AUTH) as response:
        assert response.status == 200


async def test_take_and_release_are_pushed_to_the_open_widgets(tiny_model, tmp_path):
    settings = ServerSettings(admin_token=TOKEN)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.url + "/webchat/ws") as tab,
        session.ws_connect(live.url + "/webchat/ws") as second_tab,
        session.ws_connect(live.url + "/webchat/ws") as stranger,
    ):
        token = (await hello(tab))["token"]
        await hello(second_tab, token)
        await hello(stranger)
        await first_turn(tab)
        [conversation] = [
            row["conversation_id"]
            for row in sqlite_utils.Database(live.db_path)["conversation_state"].rows
        ]
        while (await second_tab.receive_json(timeout=5))["type"] != "state":
            pass

        await handoff(session, live.url, conversation, "take")
        assert await tab.receive_json(timeout=1) == TAKEN
        assert await second_tab.receive_json(timeout=1) == TAKEN
        await handoff(session, live.url, conversation, "release")
        assert await tab.receive_json(timeout=1) == RELEASED
        assert await second_tab.receive_json(timeout=1) == RELEASED

        await stranger.send_json({"type": "ping"})
        assert await stranger.receive_json(timeout=5) == {"type": "pong"}


async def test_a_failing_listener_does_not_stop_the_others(caplog):
    listeners, heard = HandoffListeners(), []

    async def broken(conversation_id: str, taken: bool) -> None:
        raise RuntimeError("socket gone")

    async def recording(conversation_id: str, taken: bool) -> None:
        heard.append((conversation_id, taken))

    listeners.subscribe(broken)
    listeners.subscribe(recording)
    await listeners.announce("conv-1", True)
    assert heard == [("conv-1", True)]
    assert "handoff listener failed (conversation conv-1)" in caplog.text
