"""Human handoff through the real server and the real SQLite file: the bot goes silent,
an agent releases it over HTTP or with `supportbot handoff`, and the bot answers again."""

from __future__ import annotations

import aiohttp

from bot import messages
from bot.server.settings import ServerSettings
from supportbot.cli import main
from supportbot.config.dialogue import DialogueConfig, HandoffConfig
from supportbot.testing import live_server
from supportbot.testing.agents import acknowledging_desk

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "handoff-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def say(session, url: str, sender: str, message: str) -> list[str]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": message}) as r:
        assert r.status == 200
        return [reply["text"] for reply in await r.json()]


async def test_handoff_silences_the_bot_until_an_agent_releases_it(tiny_model, tmp_path, capsys):
    async with acknowledging_desk() as desk:
        await _handoff_until_released(tiny_model, tmp_path, desk)
    assert [row["conversation_id"] for row in desk.received] == ["ida"]
    assert "ida" in capsys.readouterr().out


async def _handoff_until_released(tiny_model, tmp_path, desk) -> None:
    """An external desk acknowledged the webhook, so the bot goes silent."""
    handoff = HandoffConfig(webhook_url=desk.url)
    settings = ServerSettings(admin_token=TOKEN, dialogue=DialogueConfig(handoff=handoff))
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        assert await say(session, live.url, "ida", "I want to talk to a human") == [
            messages.HANDOFF_CONFIRMED
        ]
        assert await say(session, live.url, "ida", "where is my order?") == []
        external = live.url + "/agent/api/external/conversations/ida/messages"
        body = {"agent": "Desk Dana", "text": "Hello from our help desk"}
        async with session.post(external, json=body, headers=AUTH) as response:
            assert response.status == 201
        async with session.post(external, json=body) as response:
            assert response.status == 401
        assert await say(session, live.url, "ida", "thanks") == ["Hello from our help desk"]
        async with session.get(live.url + "/admin/handoffs", headers=AUTH) as response:
            [waiting] = (await response.json())["handoffs"]
        assert (waiting["conversation_id"], waiting["reason"]) == ("ida", "customer asked")

        body = {"action": "release"}
        url = live.url + "/admin/conversations/ida/handoff"
        async with session.post(url, json=body, headers=AUTH) as response:
            assert response.status == 200
        assert await say(session, live.url, "ida", "where is my order?") != []

        assert main(["handoff", "take", "ida", "--db", str(live.db_path)]) == 0
        assert await say(session, live.url, "ida", "hello?") == []
        assert main(["handoff", "release", "ida", "--db", str(live.db_path)]) == 0
        assert await say(session, live.url, "ida", "where is my order?") != []

        async with session.post(url, json={"action": "pause"}, headers=AUTH) as response:
            assert (response.status, (await response.json())["error"]) == (
                400,
                "action: expected 'take' or 'release'",
            )
        async with session.post(url, json=body) as response:
            assert response.status == 401


def test_handoff_cli_on_an_unknown_conversation_fails_cleanly(tmp_path, capsys):
    db = tmp_path / "log.db"
    assert main(["handoff", "release", "nobody", "--db", str(db)]) == 1
    assert capsys.readouterr().err == f"error: {db}: no conversation log at this path\n"
