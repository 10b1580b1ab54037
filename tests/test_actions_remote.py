"""The action-server client against servers that misbehave: gone, not JSON, odd statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.actions import ConversationView, FailureReason, LatestMessage
from bot.actions.remote import RemoteActionRunner, action_call, result_for_response, webhook_url
from bot.actions.testing import free_port

VIEW = ConversationView("cust-3", slots={"order_id": "A-1"}).with_message(LatestMessage("hi"))


@pytest.fixture
async def fake_server() -> AsyncIterator[str]:
    """A loopback server answering /webhook with a body that is not JSON."""

    async def webhook(request: web.Request) -> web.Response:
        return web.Response(text="<html>proxy error</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_server_not_running_is_a_failure_not_an_exception() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    runner = RemoteActionRunner(url, timeout=2)
    try:
        result = await runner.run("action_check_order", VIEW)
    finally:
        await runner.close()

    assert result.reason is FailureReason.UNREACHABLE
    assert result.detail == f"cannot reach {url}/webhook: ClientConnectorError"


async def test_body_that_is_not_json(fake_server: str) -> None:
    runner = RemoteActionRunner(fake_server)
    try:
        result = await runner.run("action_check_order", VIEW)
    finally:
        await runner.close()

    assert result.reason is FailureReason.BAD_RESPONSE
    assert result.detail == f"{fake_server}/webhook answered with a body that is not JSON"


@pytest.mark.parametrize(
    ("status", "body", "reason", "detail"),
    [
        (400, {"error": "no order", "action_name": "a"}, FailureReason.REJECTED, "no order"),
        (
            400,
            {"error": "Invalid body request"},
            FailureReason.ERROR,
            "the action server answered 400",
        ),
        (
            404,
            {"error": "x", "action_name": "a"},
            FailureReason.NOT_FOUND,
            "the action server has no action named 'a'",
        ),
        (
            449,
            {"error": "x", "action_name": "a"},
            FailureReason.DOMAIN_MISSING,
            "the action server asked for the domain although it was sent",
        ),
        (
            500,
            {"error": "boom", "request_body": {}},
            FailureReason.ERROR,
            "the action server answered 500",
        ),
        (302, None, FailureReason.BAD_RESPONSE, "unexpected status 302 from the action server"),
        (200, ["not", "an", "object"], FailureReason.BAD_RESPONSE, "body is not an object"),
        (
            200,
            {"events": {}, "responses": []},
            FailureReason.BAD_RESPONSE,
            "`events` and `responses` must be lists",
        ),
    ],
)
def test_status_mapping(status: int, body: object, reason: FailureReason, detail: str) -> None:
    result = result_for_response("a", status, body)

    assert (result.reason, result.detail) == (reason, detail)


def test_empty_200_is_an_action_that_did_nothing() -> None:
    result = result_for_response("a", 200, None)

    assert not result.failed and result.messages == () and result.events == ()


@pytest.mark.parametrize(
    "url",
    ["http://h:5055", "http://h:5055/", "http://h:5055/webhook", "http://h:5055/webhook/"],
)
def test_webhook_url_accepts_base_or_rasa_style(url: str) -> None:
    assert webhook_url(url) == "http://h:5055/webhook"


def test_action_call_payload() -> None:
    payload = action_call("action_x", VIEW, {"intents": ["greet"]})

    assert set(payload) == {"next_action", "sender_id", "tracker", "domain", "version"}
    assert payload["next_action"] == "action_x" and payload["sender_id"] == "cust-3"
    assert payload["domain"] == {"intents": ["greet"]}
    tracker = payload["tracker"]
    assert tracker["slots"] == {"order_id": "A-1"}
    assert tracker["latest_message"]["text"] == "hi"
    assert tracker["paused"] is False and tracker["active_loop"] == {}
    assert [event["event"] for event in tracker["events"]] == ["user"]


async def test_state_that_is_not_json_fails_before_calling() -> None:
    view = ConversationView("cust-4", slots={"when": object()})
    runner = RemoteActionRunner(f"http://127.0.0.1:{free_port()}")

    result = await runner.run("action_check_order", view)

    assert result.reason is FailureReason.ERROR
    assert result.detail == "the conversation state (slots or events) is not JSON-serialisable"
