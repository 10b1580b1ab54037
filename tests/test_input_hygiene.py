"""Input hygiene through a real server: text that is not Unicode, JSON nested or numbered
beyond reason, and header bytes that are not UTF-8 get a 400 naming the field; nothing of
it reaches the model, and other customers' turns are answered as usual."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
import sqlite_utils

from bot import messages
from bot.server.http_errors import RequestError
from bot.server.json_input import MAX_DEPTH, MAX_NUMBER_CHARS, check_tree, loads_checked
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"
SURROGATE_BODY = b'{"sender": "mallory", "message": "where is my order \\ud800"}'
NOT_TEXT = 'field "message" is not valid Unicode text'


async def post_raw(session: aiohttp.ClientSession, url: str, body: bytes, **headers: str):
    headers = {"Content-Type": "application/json", **headers}
    async with session.post(url, data=body, headers=headers) as response:
        return response.status, await response.json()


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """One request written byte for byte (aiohttp's client will not send non-UTF-8 headers)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
    writer.write(body)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def test_a_lone_surrogate_fails_only_its_own_turn_among_16(tiny_model, tmp_path, caplog):
    async with (
        live_server(tiny_model, tmp_path / "log.db") as live,
        aiohttp.ClientSession() as session,
    ):
        url = live.url + WEBHOOK
        normal = [
            session.post(url, json={"sender": f"c{i}", "message": "where is my order?"})
            for i in range(16)
        ]
        bad = post_raw(session, url, SURROGATE_BODY)

        async def answer(request):
            async with request as response:
                return response.status, await response.json()

        *answers, refused = await asyncio.gather(*(answer(r) for r in normal), bad)
    assert refused == (400, {"error": NOT_TEXT, "status": 400})
    assert [status for status, _ in answers] == [200] * 16
    assert all(body[0]["text"] != messages.ERROR_APOLOGY for _, body in answers)
    rows = list(sqlite_utils.Database(tmp_path / "log.db")["turns"].rows)
    assert sorted(row["conversation_id"] for row in rows) == sorted(f"c{i}" for i in range(16))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 10_000 + b"]" * 10_000, f"request body is nested deeper than {MAX_DEPTH} levels"),
        (
            b'{"sender": "x", "message": "hi", "n": ' + b"9" * 5000 + b"}",
            f"request body has a number longer than {MAX_NUMBER_CHARS} characters",
        ),
        (b'{"sender": "x", "message": NaN}', "request body has NaN, which is not JSON"),
        (b'{"sender": "x\\udfff", "message": "hi"}', 'field "sender" is not valid Unicode text'),
        (b'{"\\ud800": 1}', "request body has a key that is not valid Unicode text"),
        (
            b'{"sender": "x", "message": "hi", "metadata": {"a": ["\\ud800"]}}',
            'field "metadata.a[0]" is not valid Unicode text',
        ),
        (b"\xff\xfe{}", "request body is not valid JSON"),
    ],
)
async def test_unusable_json_is_a_400_naming_the_field(tiny_model, tmp_path, body, reason, caplog):
    async with (
        live_server(tiny_model, tmp_path / "log.db", ServerSettings(expose_parse=True)) as live,
        aiohttp.ClientSession() as session,
    ):
        for path in (WEBHOOK, "/model/parse"):
            assert await post_raw(session, live.url + path, body) == (
                400,
                {"error": reason, "status": 400},
            )
    assert sqlite_utils.Database(tmp_path / "log.db")["turns"].count == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_header_bytes_that_are_not_utf8_are_a_400(tiny_model, tmp_path, caplog):
    settings = ServerSettings(admin_token="s3cret")
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        port = port_of(live.url)
        admin = b"GET /admin/handoffs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n"
        assert await raw_request(port, admin) == (
            400,
            {"error": 'header "Authorization" is not valid UTF-8 text', "status": 400},
        )
        history = b"GET /webchat/api/history HTTP/1.1\r\nHost: x\r\nX-Webchat-Token: \xc3\x28\r\n"
        assert await raw_request(port, history) == (
            400,
            {"error": 'header "X-Webchat-Token" is not valid UTF-8 text', "status": 400},
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_websocket_frames_with_bad_text_or_huge_ids_get_an_error_frame(
    tiny_model, tmp_path, caplog
):
    async with (
        live_server(tiny_model, tmp_path / "log.db") as live,
        aiohttp.ClientSession() as session,
        session.ws_connect(live.url + "/webchat/ws") as ws,
    ):
        await ws.send_str('{"type": "hello", "token": "\\ud800"}')
        assert await ws.receive_json(timeout=10) == {
            "type": "error",
            "error": 'field "token" is not valid Unicode text',
        }
        await ws.send_json({"type": "hello"})
        while (await ws.receive_json(timeout=10))["type"] != "welcome":
            pass
        await ws.send_json({"type": "feedback", "turn_id": 2**70, "value": "up"})
        assert await ws.receive_json(timeout=10) == {
            "type": "error",
            "error": 'field "turn_id" is required and must be a positive integer',
        }
        await ws.send_str('{"type": "message", "text": "hi \\udc00"}')
        assert await ws.receive_json(timeout=10) == {
            "type": "error",
            "error": 'field "text" is not valid Unicode text',
        }
    assert sqlite_utils.Database(tmp_path / "log.db")["turns"].count == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_checker_accepts_ordinary_text_and_refuses_deep_trees() -> None:
    assert loads_checked('{"a": ["ünïcødé 🎉", 1.5, -3, null]}') == {
        "a": ["ünïcødé 🎉", 1.5, -3, None]
    }
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(RequestError, match="nested deeper than 32 levels"):
        check_tree({"payload": deep}, "payload")
