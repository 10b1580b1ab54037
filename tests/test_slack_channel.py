"""The Slack channel against a local fake of the Slack Web API: signed Events API requests
to the real server, replies recorded by the fake, dedupe in the real SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import replace

import aiohttp
import pytest
from aiohttp import web

from bot import messages
from bot.channels.slack.channel import EVENTS_PATH, INTERACTIVE_PATH, SLACK
from bot.channels.slack.messages import QUICK_REPLIES_BLOCK
from bot.channels.slack.settings import SlackSettings, settings_from_config
from bot.server.app import create_app
from bot.server.settings import AppDeps, ServerSettings
from bot.store.conversation_log import SQLiteConversationStore
from supportbot.config import SlackConfig
from supportbot.errors import ConfigError
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent, sign_in
from supportbot.testing.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER_ID,
    SIGNING_SECRET,
    TEAM_ID,
    event_callback,
    fake_slack,
    interaction_form,
    signed_headers,
)

CHANNEL = "C0SUPPORT"
MENTION_TS = "1700000100.000100"


def slack_settings(fake, **config) -> ServerSettings:
    slack = SlackSettings(
        SlackConfig(api_url=fake.api_url, **config), BOT_TOKEN, SIGNING_SECRET, APP_TOKEN
    )
    return ServerSettings(slack=slack)


def mention(text: str, ts: str = MENTION_TS, thread_ts: str | None = None) -> dict:
    event = {
        "type": "app_mention",
        "user": "U0CUSTOMER",
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": CHANNEL,
        "event_ts": ts,
    }
    return {**event, "thread_ts": thread_ts} if thread_ts else event


def in_channel(text: str, ts: str) -> dict:
    return {
        "type": "message",
        "channel_type": "channel",
        "channel": CHANNEL,
        "user": "U0CUSTOMER",
        "text": text,
        "ts": ts,
    }


def direct(text: str, ts: str, **extra) -> dict:
    return {
        "type": "message",
        "channel_type": "im",
        "channel": "D0CUSTOMER",
        "user": "U0CUSTOMER",
        "text": text,
        "ts": ts,
        **extra,
    }


async def post_event(session, url: str, payload: dict, **headers) -> aiohttp.ClientResponse:
    body = json.dumps(payload).encode()
    async with session.post(
        url + EVENTS_PATH, data=body, headers={**signed_headers(body), **headers}
    ) as response:
        await response.read()
        return response


async def settled(live) -> None:
    """Wait until every turn the channel has started is finished."""
    tasks = live.app[SLACK].tasks
    while len(tasks):
        await asyncio.sleep(0.02)


def thread_replies(fake, thread_ts: str) -> list:
    return [c for c in fake.calls_to("chat.postMessage") if c.body.get("thread_ts") == thread_ts]


async def test_a_mention_gets_one_threaded_reply_however_often_slack_retries(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    payload = event_callback(mention("where is my order?"), "Ev0MENTION")
    async with fake_slack() as fake, aiohttp.ClientSession() as session:
        async with live_server(tiny_model, db, slack_settings(fake)) as live:
            assert (await post_event(session, live.url, payload)).status == 200
            [reply] = await fake.wait_for("chat.postMessage")
            assert reply.body["channel"] == CHANNEL
            assert reply.body["thread_ts"] == MENTION_TS
            assert reply.body["text"]
            assert reply.authorization == f"Bearer {BOT_TOKEN}"
            for attempt in (1, 2, 3):
                retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
                assert (await post_event(session, live.url, payload, **retry)).status == 200
            await settled(live)  # every 200 above came after the claim decided
            assert len(fake.calls_to("chat.postMessage")) == 1
            # A follow-up in the bot's thread needs no @mention (message.channels event).
            later = {**in_channel("thanks", "1700000200.000100"), "thread_ts": MENTION_TS}
            await post_event(session, live.url, event_callback(later, "Ev0LATER"))
            await fake.wait_for("chat.postMessage", 2)
            assert len(thread_replies(fake, MENTION_TS)) == 2

        # A restarted server on the same file still knows the event.
        async with live_server(tiny_model, db, slack_settings(fake)) as live:
            retry = {"X-Slack-Retry-Num": "4", "X-Slack-Retry-Reason": "http_error"}
            assert (await post_event(session, live.url, payload, **retry)).status == 200
            await settled(live)
            assert len(fake.calls_to("chat.postMessage")) == 2
            again = mention("one more thing", ts="1700000300.000100", thread_ts=MENTION_TS)
            await post_event(session, live.url, event_callback(again, "Ev0AGAIN"))
            await fake.wait_for("chat.postMessage", 3)
            assert len(thread_replies(fake, MENTION_TS)) == 3

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT conversation_id, message FROM turns ORDER BY id").fetchall()
    conversation = f"slack:{TEAM_ID}:{CHANNEL}:{MENTION_TS}"
    assert [r[0] for r in rows] == [conversation] * 3
    assert rows[0][1] == "where is my order?"


async def test_bad_signature_and_stale_timestamp_get_401_and_no_reply(tiny_model, tmp_path):
    payload = event_callback(direct("hello", "1700000400.000100"), "Ev0SIGNED")
    body = json.dumps(payload).encode()
    cases = [
        (
            signed_headers(body, secret="not-the-secret"),
            "X-Slack-Signature does not match the request body",
        ),
        (
            signed_headers(body, at=time.time() - 301),
            "X-Slack-Request-Timestamp is more than 5 minutes off the clock",
        ),
        (
            {"Content-Type": "application/json"},
            "missing X-Slack-Signature or X-Slack-Request-Timestamp header",
        ),
    ]
    async with (
        fake_slack() as fake,
        live_server(tiny_model, tmp_path / "log.db", slack_settings(fake)) as live,
        aiohttp.ClientSession() as session,
    ):
        for headers, reason in cases:
            async with session.post(live.url + EVENTS_PATH, data=body, headers=headers) as r:
                assert (r.status, await r.json()) == (401, {"error": reason, "status": 401})
        tampered = body.replace(b"hello", b"HELLO")
        async with session.post(
            live.url + EVENTS_PATH, data=tampered, headers=signed_headers(body)
        ) as r:
            assert r.status == 401
        assert fake.calls_to("chat.postMessage") == []
        # The rejected requests claimed nothing: the genuine delivery is answered.
        assert (await post_event(session, live.url, payload)).status == 200
        [reply] = await fake.wait_for("chat.postMessage")
        assert reply.body["channel"] == "D0CUSTOMER"
        assert "thread_ts" not in reply.body


async def test_url_verification_and_ignored_messages(tiny_model, tmp_path):
    ignored = [
        direct("I am the bot", "1.1", bot_id="B0BOT"),
        direct("edited", "1.2", subtype="message_changed"),
        {**direct("my own words", "1.3"), "user": BOT_USER_ID},
        in_channel("not for the bot", "1.4"),
        {**in_channel("a thread the bot is not in", "1.5"), "thread_ts": "1.0"},
        {**in_channel(f"<@{BOT_USER_ID}> app_mention answers this", "1.6"), "thread_ts": "1.0"},
    ]
    async with (
        fake_slack() as fake,
        live_server(tiny_model, tmp_path / "log.db", slack_settings(fake)) as live,
        aiohttp.ClientSession() as session,
    ):
        body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
        async with session.post(
            live.url + EVENTS_PATH, data=body, headers=signed_headers(body)
        ) as r:
            assert (r.status, await r.json()) == (200, {"challenge": "c-123"})
        for number, event in enumerate(ignored):
            assert (await post_event(session, live.url, event_callback(event, f"Ev{number}"))).ok
        await post_event(session, live.url, event_callback(direct("hi", "1.7"), "Ev0HI"))
        [reply] = await fake.wait_for("chat.postMessage")
        await settled(live)
        assert len(fake.calls_to("chat.postMessage")) == 1
        assert reply.body["channel"] == "D0CUSTOMER"


class SlowModel:
    """The tiny bot, but every analysis takes four seconds (and one text always fails)."""

    def __init__(self, model, delay: float):
        self._model = model
        self._delay = delay

    def __getattr__(self, name):
        return getattr(self._model, name)

    def analyse(self, texts, search=None):
        time.sleep(self._delay)
        if "break" in texts:
            raise RuntimeError("model failure")
        return self._model.analyse(texts, search)


async def test_a_slow_model_is_still_acknowledged_within_three_seconds(tiny_model, tmp_path):
    """The ack comes before the four-second turn, and shutdown waits for that turn."""
    model = SlowModel(tiny_model, delay=4.0)
    payload = event_callback(mention("where is my order?"), "Ev0SLOW")
    async with fake_slack() as fake, aiohttp.ClientSession() as session:
        async with live_server(model, tmp_path / "log.db", slack_settings(fake)) as live:
            started = time.monotonic()
            assert (await post_event(session, live.url, payload)).status == 200
            assert time.monotonic() - started < 3.0
            assert fake.calls_to("chat.postMessage") == []
        [reply] = fake.calls_to("chat.postMessage")
        assert time.monotonic() - started >= 4.0
        assert reply.body["thread_ts"] == MENTION_TS


async def test_quick_reply_buttons_and_a_click(tiny_model, tmp_path):
    """A failing turn answers with the apology and a handoff button; clicking it sends the
    payload as the user's message in the same thread and removes the buttons."""
    model = SlowModel(tiny_model, delay=0.0)
    async with (
        fake_slack() as fake,
        live_server(model, tmp_path / "log.db", slack_settings(fake)) as live,
        aiohttp.ClientSession() as session,
    ):
        secret = create_agent(live.db_path, "dana")
        console = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        agent = await sign_in(console, live.url, "dana", secret)
        await post_event(session, live.url, event_callback(mention("break"), "Ev0BREAK"))
        [apology] = await fake.wait_for("chat.postMessage")
        assert apology.body["text"] == messages.ERROR_APOLOGY
        section, actions = apology.body["blocks"]
        [button] = actions["elements"]
        assert (button["text"]["text"], button["value"]) == (
            messages.HANDOFF_OFFER,
            "/human_handoff",
        )

        click = {
            "type": "block_actions",
            "trigger_id": "trigger-1",
            "team": {"id": TEAM_ID},
            "user": {"id": "U0CUSTOMER"},
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "message_ts": "1700000000.000001"},
            "message": {
                "ts": "1700000000.000001",
                "thread_ts": MENTION_TS,
                "text": apology.body["text"],
                "blocks": apology.body["blocks"],
            },
            "actions": [{**button, "block_id": actions["block_id"], "action_ts": "1.9"}],
        }
        body = interaction_form(click)
        headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
        async with session.post(live.url + INTERACTIVE_PATH, data=body, headers=headers) as r:
            assert r.status == 200
        [update] = await fake.wait_for("chat.update")
        assert update.body["ts"] == "1700000000.000001"
        assert [b["type"] for b in update.body["blocks"]] == ["section", "context"]
        _, handed_off, _ = await fake.wait_for("chat.postMessage", 3)
        assert handed_off.body["text"] == messages.HANDOFF_CONFIRMED
        assert handed_off.body["thread_ts"] == MENTION_TS
        await agent_replies_in_the_thread(agent, fake)
        await console.close()

        async with session.post(
            live.url + INTERACTIVE_PATH, data=body, headers=signed_headers(body, secret="x")
        ) as r:
            assert r.status == 401


async def test_a_click_without_trigger_id_redelivered_is_answered_once(tiny_model, tmp_path):
    async with (
        fake_slack() as fake,
        live_server(tiny_model, tmp_path / "log.db", slack_settings(fake)) as live,
        aiohttp.ClientSession() as session,
    ):
        click = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": "U0CUSTOMER"},
            "channel": {"id": CHANNEL},
            "message": {"ts": "1700000000.000009", "thread_ts": MENTION_TS, "blocks": []},
            "actions": [
                {"block_id": QUICK_REPLIES_BLOCK, "value": "/human_handoff", "text": {"text": "x"}}
            ],
        }
        body = interaction_form(click)
        for _ in range(2):
            headers = signed_headers(body, content_type="application/x-www-form-urlencoded")
            async with session.post(live.url + INTERACTIVE_PATH, data=body, headers=headers) as r:
                assert r.status == 200
        [confirmed] = await fake.wait_for("chat.postMessage")
        await asyncio.sleep(0.5)
        assert confirmed.body["text"] == messages.HANDOFF_CONFIRMED
        assert len(fake.calls_to("chat.postMessage")) == 1


async def agent_replies_in_the_thread(agent, fake) -> None:
    """The agent's claim notice and reply are posted once each, in the customer's thread."""
    conversation = f"/agent/api/conversations/slack:{TEAM_ID}:{CHANNEL}:{MENTION_TS}"
    assert (await agent.post(conversation + "/claim"))[0] == 200
    assert (await agent.post(conversation + "/messages", {"text": "Dana here, on it"}))[0] == 201
    *_, joined, reply = await fake.wait_for("chat.postMessage", 5)
    assert joined.body["text"] == messages.AGENT_JOINED.format(agent="Dana")
    assert (reply.body["text"], reply.body["thread_ts"]) == ("*Dana*: Dana here, on it", MENTION_TS)
    await asyncio.sleep(0.2)
    assert len(fake.calls_to("chat.postMessage")) == 5


async def test_socket_mode_acks_an_envelope_and_answers_it_once(tiny_model, tmp_path):
    event = event_callback(direct("hello there", "1700000500.000100"), "Ev0SOCKET")
    envelope = {"type": "events_api", "envelope_id": "env-1", "payload": event}
    async with (
        fake_slack() as fake,
        live_server(tiny_model, tmp_path / "log.db", slack_settings(fake, mode="socket")) as live,
        aiohttp.ClientSession() as session,
    ):
        await fake.push(envelope)
        await fake.wait_for_ack("env-1")
        [reply] = await fake.wait_for("chat.postMessage")
        assert reply.body["channel"] == "D0CUSTOMER"
        [connect] = fake.calls_to("apps.connections.open")
        assert connect.authorization == f"Bearer {APP_TOKEN}"

        await fake.push({**envelope, "envelope_id": "env-2", "retry_attempt": 1})
        await fake.wait_for_ack("env-2")
        await settled(live)
        assert len(fake.calls_to("chat.postMessage")) == 1
        later = event_callback(direct("thanks", "1700000600.000100"), "Ev0SOCKET2")
        await fake.push({"type": "events_api", "envelope_id": "env-3", "payload": later})
        await fake.wait_for("chat.postMessage", 2)
        assert len(fake.calls_to("chat.postMessage")) == 2
        async with session.post(live.url + EVENTS_PATH, data=b"{}") as r:
            assert r.status == 404


def test_slack_config_names_the_missing_variable_and_bad_keys():
    channels = {"slack": {"mode": "events"}}
    with pytest.raises(ConfigError) as missing:
        settings_from_config(channels, {"SLACK_BOT_TOKEN": "xoxb-1"})
    assert str(missing.value) == (
        "channels.slack.signing_secret_env: environment variable SLACK_SIGNING_SECRET is not set"
    )
    with pytest.raises(ConfigError) as no_token:
        settings_from_config({"slack": {"mode": "socket"}}, {})
    assert str(no_token.value) == (
        "channels.slack.bot_token_env: environment variable SLACK_BOT_TOKEN is not set"
    )
    with pytest.raises(ConfigError) as bad:
        settings_from_config({"slack": {"mode": "webhook", "tokn": "x"}}, {})
    assert str(bad.value) == (
        "channels.slack.mode: Input should be 'events' or 'socket'\n"
        "channels.slack.tokn: Extra inputs are not permitted"
    )
    assert settings_from_config({"webchat": {}}, {}) is None
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
    resolved = settings_from_config({"slack": {"mode": "socket"}}, env)
    assert (resolved.bot_token, resolved.app_token, resolved.signing_secret) == (
        "xoxb-1",
        "xapp-1",
        None,
    )


async def test_a_rejected_bot_token_stops_start_up(tiny_model, tmp_path):
    async with fake_slack() as fake:
        settings = slack_settings(fake)
        settings.slack = replace(settings.slack, bot_token="xoxb-revoked")
        store = SQLiteConversationStore(tmp_path / "log.db")
        runner = web.AppRunner(create_app(settings, AppDeps(tiny_model, store)))
        try:
            with pytest.raises(ConfigError) as rejected:
                await runner.setup()
        finally:
            await runner.cleanup()
    assert str(rejected.value) == (
        "channels.slack.bot_token_env: Slack rejected the token in SLACK_BOT_TOKEN (invalid_auth)"
    )
