"""End to end: a trained bot served on a free loopback port, real HTTP, real SQLite log."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
import sqlite_utils

from bot import messages
from bot.server import auth
from bot.server.http_errors import RequestError
from bot.server.parse import ParseLimiter
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"


def turns(db_path) -> list[dict]:
    return list(sqlite_utils.Database(db_path)["turns"].rows_where(order_by="id"))


async def post(session: aiohttp.ClientSession, url: str, body) -> tuple[int, object]:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    async with session.post(url + WEBHOOK, data=data) as response:
        return response.status, await response.json()


@pytest.fixture
async def server(tiny_model, tmp_path):
    async with live_server(tiny_model, tmp_path / "log.db") as live:
        async with aiohttp.ClientSession() as session:
            yield live, session


async def test_health_reports_the_model(server, tiny_model):
    live, session = server
    async with session.get(live.url + "/health") as response:
        assert response.status == 200
        assert await response.json() == {"status": "ok", "model": tiny_model.version, "intents": 8}


async def test_intent_message_gets_its_response_and_is_logged(server, tiny_model):
    live, session = server
    status, body = await post(
        session, live.url, {"sender": "alice", "message": "where is my order?"}
    )
    assert status == 200
    expected = {r.text for r in tiny_model.responses["order_status"]}
    assert len(body) >= 1 and body[0]["recipient_id"] == "alice"
    assert body[0]["text"] in expected
    [row] = turns(live.db_path)
    assert row["conversation_id"] == "alice"
    assert row["message"] == "where is my order?"
    assert row["intent"] == "order_status"
    assert row["action"] == "intent_response"
    assert row["response"] == body[0]["text"]
    assert 0 < row["confidence"] <= 1 and row["latency_ms"] > 0
    assert row["model_version"] == tiny_model.version
    # The intent settled the reply, so the knowledge base was not searched for it.
    assert json.loads(row["retrieval_hits"]) is None


async def test_quick_reply_payload_selects_the_intent(server, tiny_model):
    live, session = server
    status, body = await post(session, live.url, {"sender": "bob", "message": "/payment_methods"})
    assert status == 200
    assert body[0]["text"] in {r.text for r in tiny_model.responses["payment_methods"]}


async def test_off_topic_message_falls_back(server):
    live, session = server
    status, body = await post(
        session, live.url, {"sender": "carol", "message": "what is the boiling point of tungsten"}
    )
    assert status == 200
    assert body == [{"recipient_id": "carol", "text": messages.FALLBACK}]
    [row] = turns(live.db_path)
    assert row["action"] == "fallback" and row["out_of_scope"] == 1
    assert isinstance(json.loads(row["retrieval_hits"]), list)  # searched: no intent fitted


async def test_help_article_answers_a_question_without_an_intent(server):
    live, session = server
    status, body = await post(
        session, live.url, {"sender": "dan", "message": "how do I reset my password"}
    )
    assert status == 200
    assert body[0]["text"].startswith(messages.RETRIEVAL_PREFIX.format(title="Your account"))
    assert turns(live.db_path)[0]["action"] == "retrieval"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"[1, 2]", "request body must be a JSON object"),
        ({"message": "hi"}, 'field "sender" is required and must be a non-empty string'),
        ({"sender": "x"}, 'field "message" is required and must be a string'),
        ({"sender": "x", "message": "   "}, 'field "message" is empty'),
        ({"sender": "x", "message": "a" * 2001}, 'field "message" is longer than 2000 characters'),
        ({"sender": "x", "message": 5}, 'field "message" is required and must be a string'),
    ],
)
async def test_bad_requests_get_400_with_a_reason_and_log_nothing(server, body, reason):
    live, session = server
    status, answer = await post(session, live.url, body)
    assert (status, answer) == (400, {"error": reason, "status": 400})
    assert turns(live.db_path) == []


async def test_oversized_body_is_413(tiny_model, tmp_path):
    settings = ServerSettings(max_body_bytes=1024)
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        async with aiohttp.ClientSession() as session:
            status, answer = await post(session, live.url, {"sender": "x", "message": "a" * 2000})
    assert status == 413
    assert answer == {"error": "request body is larger than 1024 bytes", "status": 413}


async def test_concurrent_conversations_are_all_answered_and_logged(server):
    live, session = server
    questions = ["where is my order?", "can I pay with PayPal?", "I want to return an item"]
    bodies = [{"sender": f"user-{i}", "message": questions[i % 3]} for i in range(30)]
    results = await asyncio.gather(*(post(session, live.url, b) for b in bodies))
    assert [status for status, _ in results] == [200] * 30
    rows = turns(live.db_path)
    assert len(rows) == 30
    assert {r["conversation_id"] for r in rows} == {f"user-{i}" for i in range(30)}


async def test_turns_of_one_conversation_are_logged_in_order(server):
    live, session = server
    texts = [f"where is my order number {i}" for i in range(8)]
    await asyncio.gather(
        *(post(session, live.url, {"sender": "erin", "message": t}) for t in texts)
    )
    assert len(turns(live.db_path)) == 8


async def test_personal_data_is_redacted_in_the_log(server):
    live, session = server
    message = "my email is jane.doe@example.com and card 4111 1111 1111 1111, where is my order"
    status, _ = await post(session, live.url, {"sender": "fay", "message": message})
    assert status == 200
    [row] = turns(live.db_path)
    assert "jane.doe@example.com" not in row["message"] and "<EMAIL>" in row["message"]
    assert "4111" not in row["message"] and "<CARD>" in row["message"]


ADMIN = {"Authorization": "Bearer parse-t0ken"}


@pytest.fixture
async def parse_server(tiny_model, tmp_path):
    """A server with an admin token, which /model/parse requires."""
    settings = ServerSettings(admin_token="parse-t0ken")
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        async with aiohttp.ClientSession() as session:
            yield live, session


async def test_model_parse_shows_ranking_and_retrieval(parse_server):
    live, session = parse_server
    body = {"text": "where is my order"}
    async with session.post(live.url + "/model/parse", json=body, headers=ADMIN) as r:
        assert r.status == 200
        body = await r.json()
    assert body["intent"]["name"] == "order_status"
    assert body["intent_ranking"][0]["name"] == "order_status"
    # Searched even though the intent is confident: the caller asked for the NLU view.
    assert body["retrieval"] and {"score", "title", "kind"} <= set(body["retrieval"][0])
    # A question-and-answer passage's title is a customer's question: never returned.
    assert all(hit["title"] is None for hit in body["retrieval"] if hit["kind"] == "qa")


async def test_model_parse_explains_on_request(parse_server):
    live, session = parse_server
    body = {"text": "what is the boiling point of tungsten", "explain": True}
    async with session.post(live.url + "/model/parse", json=body, headers=ADMIN) as r:
        assert r.status == 200
        explanation = (await r.json())["explanation"]
    assert explanation["out_of_scope"] is True
    assert explanation["out_of_scope_reason"].startswith("failed: ")
    # "confidence", or "confidence + 2 x similarity" when training chose a support weight
    assert any(c["check"].startswith("confidence") for c in explanation["checks"])
    assert len(explanation["nearest_examples"]) == 3
    # Training examples may be customers' messages: their texts are left out.
    assert set(explanation["nearest_examples"][0]) == {"intent", "similarity"}


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, auth.TOKEN_MISSING),
        ({"Authorization": "Bearer nope"}, 403, auth.TOKEN_INVALID),
    ],
)
async def test_model_parse_without_the_admin_token_is_refused(
    parse_server, headers, status, reason
):
    live, session = parse_server
    async with session.post(live.url + "/model/parse", json={"text": "hi"}, headers=headers) as r:
        assert (r.status, await r.json()) == (status, {"error": reason, "status": status})


async def test_model_parse_is_disabled_without_an_admin_token_unless_exposed(
    server, tiny_model, tmp_path
):
    live, session = server
    async with session.post(live.url + "/model/parse", json={"text": "hi"}) as r:
        assert (r.status, await r.json()) == (403, {"error": auth.DISABLED, "status": 403})
    settings = ServerSettings(expose_parse=True)
    async with live_server(tiny_model, tmp_path / "exposed.db", settings) as exposed:
        async with session.post(exposed.url + "/model/parse", json={"text": "hi"}) as r:
            assert r.status == 200


def test_parse_calls_are_limited_at_once_and_per_minute() -> None:
    limiter = ParseLimiter(in_flight=1, per_minute=2)
    limiter.enter(0.0)
    with pytest.raises(RequestError, match="at most 1 calls at once") as busy:
        limiter.enter(1.0)
    assert busy.value.status == 429
    limiter.leave()
    limiter.enter(2.0)
    limiter.leave()
    with pytest.raises(RequestError, match="limited to 2 calls a minute"):
        limiter.enter(3.0)
    limiter.enter(60.5)  # the first call is more than a minute old


async def test_a_button_does_what_the_bot_definition_declares(server, tiny_model):
    live, session = server
    status, body = await post(session, live.url, {"sender": "dan", "message": "/start_return"})
    assert status == 200
    assert body[0]["text"].startswith("To start a return, open My account > Orders")
    [row] = turns(live.db_path)
    assert row["action"] == "intent_response"
    assert json.loads(row["metadata"])["clicked"] == "start_return"


async def test_a_rasa_payload_with_slots_answers_as_its_intent(server, tiny_model):
    live, session = server
    message = '/order_status{"order_number": "AB123456"}'
    status, body = await post(session, live.url, {"sender": "eve", "message": message})
    assert status == 200
    assert body[0]["text"] in {r.text for r in tiny_model.responses["order_status"]}
    [row] = turns(live.db_path)
    assert row["action"] == "intent_response"
    [state] = sqlite_utils.Database(live.db_path)["conversation_state"].rows
    assert json.loads(state["state"])["slots"] == {"order_number": "AB123456"}
