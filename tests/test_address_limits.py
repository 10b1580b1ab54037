"""Rate limits per client address as well as per sender, through a real server: rotating
the sender id (REST) or the session (web chat) from one address does not escape them."""

from __future__ import annotations

import aiohttp
import sqlite_utils

from bot import messages
from bot.moderation import Moderator
from bot.server.settings import ServerSettings
from supportbot.config import ModerationConfig
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"


async def test_rotating_senders_from_one_address_is_rate_limited(tiny_model, tmp_path):
    moderation = ModerationConfig(address_rate_limit_messages=5, address_limit_exempt=[])
    settings = ServerSettings(moderation=moderation)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        replies = []
        for number in range(4):
            body = {"sender": f"rotating-{number}", "message": "where is my order?"}
            async with session.post(live.url + WEBHOOK, json=body) as response:
                replies.append((await response.json())[0]["text"])
        async with session.post(live.url + "/webchat/api/sessions") as response:
            token = (await response.json())["token"]
        for _ in range(2):  # the web chat counts against the same address
            async with session.post(
                live.url + "/webchat/api/messages",
                json={"text": "where is my order?"},
                headers={"X-Webchat-Token": token},
            ) as response:
                replies.append((await response.json())["turn"]["replies"][0]["text"])
        body = {"sender": "rotating-99", "message": "where is my order?"}
        async with session.post(live.url + WEBHOOK, json=body) as response:
            replies.append((await response.json())[0]["text"])
    assert [text == messages.RATE_LIMITED for text in replies] == [False] * 5 + [True] * 2
    assert sqlite_utils.Database(tmp_path / "log.db")["turns"].count == 5


def test_exempt_addresses_and_relayed_messages_are_not_counted() -> None:
    moderator = Moderator(ModerationConfig(address_rate_limit_messages=1))
    assert [moderator.admit(f"s{n}", "127.0.0.1") for n in range(3)] == [None] * 3
    assert [moderator.admit(f"t{n}", None) for n in range(3)] == [None] * 3
    assert moderator.admit("u1", "203.0.113.9") is None
    assert moderator.admit("u2", "203.0.113.9") is not None
    assert moderator.admit("u3", "203.0.113.10") is None
