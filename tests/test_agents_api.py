"""The agent API on a real server and SQLite file: a handoff reaches a signed-in agent, the
agent's messages reach the REST customer, refusals are clear and log nothing, and with
nobody signed in the customer hears the alternative while the bot keeps answering."""

from __future__ import annotations

import asyncio
import gzip
import json

import aiohttp
import sqlite_utils

from bot import messages
from bot.agents import api
from bot.agents.desk import NOT_QUEUED, NOT_YOURS, RELEASED
from bot.handoff.desk import unavailable_notice
from bot.server.settings import ServerSettings
from supportbot.cli import main
from supportbot.config.dialogue import DialogueConfig, HandoffConfig, OpeningHours
from supportbot.testing import live_server
from supportbot.testing.agents import create_agent, sign_in

WEBHOOK = "/webhooks/rest/webhook"
CONVERSATIONS = "/agent/api/conversations"


async def say(session, url: str, sender: str, message: str) -> list[dict]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": message}) as r:
        assert r.status == 200
        return await r.json()


def texts(replies: list[dict]) -> list[str]:
    return [reply["text"] for reply in replies]


def turn_count(db_path) -> int:
    return sqlite_utils.Database(db_path)["turns"].count


async def test_a_handoff_reaches_a_signed_in_agent_who_answers_over_rest(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    dana, sam = create_agent(db, "dana"), create_agent(db, "sam")
    handoff = HandoffConfig(alternative="https://example.com/contact")
    settings = ServerSettings(dialogue=DialogueConfig(handoff=handoff))
    async with live_server(tiny_model, db, settings) as live, aiohttp.ClientSession() as plain:
        url = live.url
        assert texts(await say(plain, url, "ida", "I want to talk to a human")) == [
            unavailable_notice(handoff)
        ]
        assert texts(await say(plain, url, "ida", "where is my order?")) != []

        async with plain.post(url + "/agent/api/login", json={"name": "dana", "secret": "x"}) as r:
            assert (r.status, (await r.json())["error"]) == (401, api.WRONG_SECRET)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as cookies:
            agent = await sign_in(cookies, url, "dana", dana)
            assert texts(await say(plain, url, "ida", "I want to talk to a human")) == [
                messages.HANDOFF_CONFIRMED,
                messages.HANDOFF_QUEUE_PLACE.format(place=1),
            ]
            status, listing = await agent.get(CONVERSATIONS)
            [waiting] = listing["conversations"]
            assert (waiting["conversation_id"], waiting["status"], waiting["channel"]) == (
                "ida",
                "waiting",
                "rest",
            )
            assert waiting["summary"]["last_customer_message"] == "I want to talk to a human"
            assert "order_status" in waiting["summary"]["intents"]

            claim = f"{CONVERSATIONS}/ida/claim"
            async with cookies.post(url + claim) as response:
                assert (response.status, (await response.json())["error"]) == (
                    403,
                    api.CSRF_MISSING,
                )
            assert (await agent.post(claim))[0] == 200
            bearer = {"Authorization": f"Bearer sam:{sam}"}
            async with plain.post(url + claim, headers=bearer) as response:
                assert (response.status, (await response.json())["error"]) == (
                    409,
                    "conversation is already claimed by dana",
                )

            before = turn_count(db)
            send = url + f"{CONVERSATIONS}/ida/messages"
            refusals = [
                (
                    agent.post(f"{CONVERSATIONS}/ida/messages", {"text": " "}),
                    400,
                    'field "text" is empty',
                ),
                (
                    agent.post(f"{CONVERSATIONS}/ida/messages", {"text": "x" * 2001}),
                    400,
                    'field "text" is longer than 2000 characters',
                ),
                (agent.post(f"{CONVERSATIONS}/nobody/messages", {"text": "hi"}), 404, NOT_QUEUED),
            ]
            for call, status, reason in refusals:
                assert await call == (status, {"error": reason, "status": status})
            headers = {api.CSRF_HEADER: agent.csrf, "Content-Type": "application/json"}
            async with cookies.post(send, data=b"{not json", headers=headers) as response:
                assert (response.status, (await response.json())["error"]) == (
                    400,
                    "request body is not valid JSON",
                )
            async with plain.post(send, json={"text": "hi"}, headers=bearer) as response:
                assert (response.status, (await response.json())["error"]) == (409, NOT_YOURS)
            assert turn_count(db) == before

            status, sent = await agent.post(
                f"{CONVERSATIONS}/ida/messages", {"text": "Hi, Dana here dana@example.com"}
            )
            assert (status, sent["message"]["agent"]) == (201, "Dana")
            replies = await say(plain, url, "ida", "thanks, my order is late")
            assert texts(replies) == [
                messages.AGENT_JOINED.format(agent="Dana"),
                "Hi, Dana here dana@example.com",
            ]
            assert replies[1]["custom"]["kind"] == "agent"

            assert (await agent.post(f"{CONVERSATIONS}/ida/notes", {"text": "VIP"}))[0] == 201
            assert (await agent.post(f"{CONVERSATIONS}/ida/release"))[0] == 200
            after = await say(plain, url, "ida", "where is my order?")
            assert texts(after)[0] == messages.AGENT_LEFT.format(agent="Dana")
            assert len(after) >= 2
            assert await agent.post(f"{CONVERSATIONS}/ida/messages", {"text": "hi"}) == (
                409,
                {"error": RELEASED, "status": 409},
            )
            assert main(["agents", "disable", "sam", "--db", str(db)]) == 0
            async with plain.get(url + CONVERSATIONS, headers=bearer) as response:
                assert (response.status, (await response.json())["error"]) == (403, api.DISABLED)
    actions = [
        r["action"]
        for r in sqlite_utils.Database(db)["turns"].rows_where(
            "conversation_id = 'ida'", order_by="id"
        )
    ]
    assert "agent_message" in actions and actions.count("handoff_notice") == 2
    [row] = sqlite_utils.Database(db)["turns"].rows_where("action = 'agent_message'")
    assert '"agent": "Dana"' in row["responses"] and row["message"] == ""
    await exported_and_forgotten(db, tmp_path / "dialogues.jsonl.gz")


async def exported_and_forgotten(db, out) -> None:
    """`export dialogues` writes customer and agent turns; `forget` removes the agent's
    turns, the queue row and the notes, and keeps the audit only by hash."""
    assert main(["export", "dialogues", "--db", str(db), "--out", str(out)]) == 0
    [dialogue] = [json.loads(line) for line in gzip.open(out, "rt")]
    speakers = [(turn["speaker"], turn["text"]) for turn in dialogue["turns"]]
    assert ("agent", "Hi, Dana here <EMAIL>") in speakers
    assert speakers[0] == ("customer", "I want to talk to a human")
    assert {speaker for speaker, _ in speakers} == {"customer", "agent"}
    assert await asyncio.to_thread(main, ["forget", "ida", "--db", str(db)]) == 0
    log = sqlite_utils.Database(db)
    assert log["turns"].count == log["agent_queue"].count == log["agent_notes"].count == 0
    assert "ida" not in {row["conversation_id"] for row in log["agent_audit"].rows}


async def test_a_claimed_conversation_survives_a_restart(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    secret = create_agent(db, "dana")
    bearer = {"Authorization": f"Bearer dana:{secret}"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with live_server(tiny_model, db) as live:
            agent = await sign_in(session, live.url, "dana", secret)
            await say(session, live.url, "ida", "talk to a human please")
            assert (await agent.post(f"{CONVERSATIONS}/ida/claim"))[0] == 200
            assert (await agent.post(f"{CONVERSATIONS}/ida/notes", {"text": "refund asked"}))[
                0
            ] == 201
        async with live_server(tiny_model, db) as live:
            async with session.get(live.url + f"{CONVERSATIONS}/ida", headers=bearer) as r:
                shown = await r.json()
            assert (shown["conversation"]["status"], shown["conversation"]["agent"]) == (
                "claimed",
                "dana",
            )
            assert [note["text"] for note in shown["notes"]] == ["refund asked"]
            assert shown["transcript"][0] == {
                "speaker": "customer",
                "text": "talk to a human please",
                "at": shown["transcript"][0]["at"],
            }
            assert await say(session, live.url, "ida", "hello?") == []


async def test_with_nobody_signed_in_a_classifier_only_bot_keeps_answering(tiny_model, tmp_path):
    hours = OpeningHours(timezone="Europe/Berlin", days=["mon", "tue", "wed", "thu", "fri"])
    handoff = HandoffConfig(hours=hours, alternative="https://example.com/ticket")
    settings = ServerSettings(dialogue=DialogueConfig(handoff=handoff))
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        async with aiohttp.ClientSession() as session:
            assert texts(await say(session, live.url, "eve", "how tall is mount everest")) == [
                messages.FALLBACK
            ]
            [notice] = texts(await say(session, live.url, "eve", "explain quantum chromodynamics"))
            assert "Mon-Fri 09:00-17:00 (Europe/Berlin)" in notice
            assert "https://example.com/ticket" in notice
            answer = texts(await say(session, live.url, "eve", "what is the weather on mars"))
            assert answer and all(answer)


async def test_a_waiting_customer_can_cancel_and_the_queue_times_out(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    secret = create_agent(db, "dana")
    handoff = HandoffConfig(queue_timeout=1.0)
    settings = ServerSettings(dialogue=DialogueConfig(handoff=handoff))
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        live_server(tiny_model, db, settings) as live,
        aiohttp.ClientSession(cookie_jar=jar) as session,
    ):
        await sign_in(session, live.url, "dana", secret)
        assert texts(await say(session, live.url, "ida", "talk to a human please"))[0] == (
            messages.HANDOFF_CONFIRMED
        )
        assert texts(await say(session, live.url, "ida", "never mind")) == [
            messages.HANDOFF_CANCELLED
        ]
        assert texts(await say(session, live.url, "ida", "where is my order?")) != []

        await say(session, live.url, "ida", "talk to a human please")
        for _ in range(40):
            await asyncio.sleep(0.1)
            listed = (await (await session.get(live.url + CONVERSATIONS)).json())["conversations"]
            if not listed:
                break
        replies = texts(await say(session, live.url, "ida", "where is my order?"))
        assert replies[0] == messages.HANDOFF_QUEUE_TIMEOUT and len(replies) >= 2
        await rated_after_release(session, live.url, secret)
    [survey] = sqlite_utils.Database(db)["agent_surveys"].rows
    assert (survey["conversation_id"], survey["agent"], survey["score"]) == ("ida", "dana", 4)


async def rated_after_release(session, url: str, secret: str) -> None:
    """Released with a survey, the customer's "4" is stored and thanked, not answered."""
    agent = await sign_in(session, url, "dana", secret)
    await say(session, url, "ida", "talk to a human please")
    assert (await agent.post(f"{CONVERSATIONS}/ida/claim"))[0] == 200
    assert (await agent.post(f"{CONVERSATIONS}/ida/release", {"survey": True}))[0] == 200
    assert texts(await say(session, url, "ida", "4")) == [
        messages.AGENT_JOINED.format(agent="Dana"),
        messages.AGENT_LEFT.format(agent="Dana"),
        messages.SURVEY_QUESTION.format(agent="Dana"),
        messages.SURVEY_THANKS,
    ]
