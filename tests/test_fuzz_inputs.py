"""Fuzzing the request parsers and the WebSocket frame decoder with Hypothesis: arbitrary
JSON values and byte strings are answered with a 4xx and a reason, never a 500 or an
error the caller did not expect. Bounded example counts keep it to a few seconds."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels import rest
from bot.channels.webchat.frames import FrameError, parse_feedback, parse_frame
from bot.server.http_errors import RequestError
from bot.server.json_input import loads_checked
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

# Text with lone surrogates and control characters, which `st.text()` alone avoids.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(
    [
        "sender",
        "message",
        "metadata",
        "text",
        "explain",
        "type",
        "token",
        "turn_id",
        "value",
        "client_id",
    ]
)
SHAPED = st.dictionaries(KEYS | TEXT, JSON, max_size=5)
"""Objects that use the fields the parsers read, so the fuzz gets past the first check."""


def encoded(value) -> bytes:
    return json.dumps(value, ensure_ascii=True, allow_nan=True).encode()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), JSON.map(encoded), SHAPED.map(encoded)))
def test_rest_and_parse_bodies_raise_only_request_errors(body: bytes) -> None:
    try:
        rest.parse_inbound(rest.parse_json_object(body), 2000)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.reason
    try:
        loads_checked(body)
    except RequestError as exc:
        assert exc.status == 400


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, JSON.map(json.dumps), SHAPED.map(json.dumps)))
def test_websocket_frames_raise_only_frame_errors(raw: str) -> None:
    try:
        parse_frame(raw, 2000)
    except FrameError as exc:
        assert exc.reason


@settings(max_examples=100, deadline=None)
@given(SHAPED)
def test_feedback_bodies_raise_only_frame_errors(payload: dict) -> None:
    try:
        parse_feedback(payload)
    except FrameError as exc:
        assert exc.reason


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory) -> Iterator[tuple[int, dict]]:
    """A live server on its own event loop thread, so Hypothesis's synchronous examples can
    call it over loopback."""
    ready, stop = threading.Event(), None
    port: list[int] = []
    db = tmp_path_factory.mktemp("fuzz") / "log.db"

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with live_server(tiny_model, db, ServerSettings(expose_parse=True)) as live:
            port.append(int(live.url.rsplit(":", 1)[1]))
            ready.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(60)
    status, session = post(port[0], "/webchat/api/sessions", b"")
    assert status == 201
    yield port[0], {"X-Webchat-Token": session["token"]}
    loop.call_soon_threadsafe(stop.set)  # type: ignore[union-attr]
    thread.join(30)


def post(port: int, path: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            "POST", path, body, {"Content-Type": "application/json", **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.binary(max_size=120), JSON.map(encoded), SHAPED.map(encoded)))
def test_no_body_gets_a_500_from_the_server(server: tuple[int, dict], body: bytes) -> None:
    server_port, token = server
    for path, headers in (
        ("/webhooks/rest/webhook", {}),
        ("/model/parse", {}),
        ("/webchat/api/messages", token),
        ("/webchat/api/feedback", token),
    ):
        status, answer = post(server_port, path, body, headers)
        assert status < 500, (path, status, answer)
        if status >= 400:
            assert answer["error"] and answer["status"] == status
