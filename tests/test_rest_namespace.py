"""The REST channel names conversations only in its own namespace, and can require a bearer
token: through a real server, a REST call naming a Slack or web chat conversation writes
nothing into it, and without the token nothing is answered or logged."""

from __future__ import annotations

import aiohttp
import pytest
import sqlite_utils

from bot.channels import rest
from bot.channels.slack.messages import SlackTarget
from bot.server.http_errors import RequestError
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"


def turns(db_path) -> list[dict]:
    return list(sqlite_utils.Database(db_path)["turns"].rows)


async def test_a_rest_call_naming_a_slack_or_webchat_conversation_writes_nothing(
    tiny_model, tmp_path
):
    slack_dm = SlackTarget("T1", "D1", "U1", True, None).conversation_id
    async with (
        live_server(tiny_model, tmp_path / "log.db") as live,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(live.url + "/webchat/api/sessions") as response:
            assert response.status == 201
        db = sqlite_utils.Database(tmp_path / "log.db")
        [webchat_id] = [row["conversation_id"] for row in db["webchat_sessions"].rows]
        for victim, prefix in ((slack_dm, "slack:"), (webchat_id, "webchat-")):
            for message in ("human please", "see https://evil.example"):
                body = {"sender": victim, "message": message}
                async with session.post(live.url + WEBHOOK, json=body) as response:
                    assert response.status == 400
                    assert await response.json() == {
                        "error": rest.SENDER_RESERVED.format(prefix=prefix),
                        "status": 400,
                    }
        async with session.post(live.url + WEBHOOK, json={"sender": "me", "message": "hi"}) as ok:
            assert ok.status == 200
    assert [row["conversation_id"] for row in turns(tmp_path / "log.db")] == ["me"]
    states = sqlite_utils.Database(tmp_path / "log.db")
    if "conversation_state" in states.table_names():
        ids = {row["conversation_id"] for row in states["conversation_state"].rows}
        assert slack_dm not in ids and webchat_id not in ids


@pytest.mark.parametrize(
    ("header", "status", "reason"),
    [
        (None, 401, rest.TOKEN_MISSING),
        ("Basic abc", 401, rest.TOKEN_MISSING),
        ("Bearer wrong", 403, rest.TOKEN_INVALID),
    ],
)
async def test_with_a_token_configured_rest_calls_without_it_are_refused(
    tiny_model, tmp_path, header, status, reason
):
    settings = ServerSettings(rest_token="t0ken")
    body = {"sender": "me", "message": "where is my order?"}
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        headers = {"Authorization": header} if header else {}
        async with session.post(live.url + WEBHOOK, json=body, headers=headers) as response:
            assert (response.status, await response.json()) == (
                status,
                {"error": reason, "status": status},
            )
        good = {"Authorization": "Bearer t0ken"}
        async with session.post(live.url + WEBHOOK, json=body, headers=good) as response:
            assert response.status == 200
    assert len(turns(tmp_path / "log.db")) == 1


@pytest.mark.parametrize("sender", ["a\nb", "\x1b[31mred", "evil\u202egnp.exe", "zero\u200bwidth"])
def test_senders_with_control_or_formatting_characters_are_refused(sender: str) -> None:
    with pytest.raises(RequestError) as refused:
        rest.parse_inbound({"sender": sender, "message": "hi"}, 2000)
    assert refused.value.reason == rest.SENDER_UNPRINTABLE
