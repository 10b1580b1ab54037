"""Slow and oversized clients through a real server: bodies trickling in hold no place at
the admission gate, so customers' turns are answered meanwhile; the slow requests get 408
when their time is up, 429 beyond their address's share, and an oversized declared body
gets 413 before any of it is sent. Slow headers are cut off too."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from bot.app_keys import GATE
from bot.server.admission import BODY_TIMEOUT, TOO_LARGE, TOO_MANY_SLOW
from bot.server.settings import ServerSettings
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"
SLOW_ADDRESSES = [f"127.0.0.{n}" for n in range(2, 12)]  # loopback, one share each
SLOW_PER_ADDRESS = 30
DECLARED = 200


class SlowClient:
    """A request whose body comes one byte a second, from a chosen loopback address."""

    def __init__(self, port: int, source: str):
        self.port = port
        self.source = source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, declared: int = DECLARED) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(self.source, 0)
        )
        head = (
            f"POST {WEBHOOK} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n{{"
        )
        self.writer.write(head.encode())
        await self.writer.drain()

    async def trickle_until_answered(self) -> tuple[int, dict, float]:
        """Keep sending a byte a second until the server answers: (status, body, seconds)."""
        assert self.reader is not None and self.writer is not None
        started = time.monotonic()
        reading = asyncio.ensure_future(self.response())
        while not reading.done():
            try:
                self.writer.write(b" ")
                await self.writer.drain()
            except ConnectionError:
                break
            await asyncio.wait([reading], timeout=1.0)
        status, body = await reading
        self.writer.close()
        return status, body, time.monotonic() - started

    async def response(self) -> tuple[int, dict]:
        """The status and JSON body of the response (without waiting for the connection
        to close: the server lingers a moment to let a client finish sending)."""
        assert self.reader is not None
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode()
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length:")
        )
        return int(head.split()[1]), json.loads(await self.reader.readexactly(length))


async def normal_turn(session: aiohttp.ClientSession, url: str, sender: str) -> int:
    body = {"sender": sender, "message": "where is my order?"}
    async with session.post(url + WEBHOOK, json=body) as response:
        await response.read()
        return response.status


async def test_slow_bodies_leave_turns_answered_and_get_408(tiny_model, tmp_path):
    timeout = 4.0
    settings = ServerSettings(body_timeout_seconds=timeout, slow_bodies_per_client=32)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        port = int(live.url.rsplit(":", 1)[1])
        slow = [SlowClient(port, a) for a in SLOW_ADDRESSES for _ in range(SLOW_PER_ADDRESS)]
        await asyncio.gather(*(client.open() for client in slow))
        trickling = [asyncio.ensure_future(c.trickle_until_answered()) for c in slow]
        await asyncio.sleep(1.0)
        assert live.app[GATE].in_flight == 0  # 300 bodies arriving hold no place
        statuses = await asyncio.gather(
            *(normal_turn(session, live.url, f"c{i}") for i in range(16))
        )
        assert statuses == [200] * 16
        answers = await asyncio.gather(*trickling)
    refused = {"error": BODY_TIMEOUT.format(seconds="4"), "status": 408}
    assert [(status, body) for status, body, _ in answers] == [(408, refused)] * len(slow)
    assert max(seconds for _, _, seconds in answers) < timeout + 2


async def test_an_address_beyond_its_share_of_slow_bodies_gets_429(tiny_model, tmp_path):
    settings = ServerSettings(body_timeout_seconds=2.0, slow_bodies_per_client=4)
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        port = int(live.url.rsplit(":", 1)[1])
        held = [SlowClient(port, "127.0.0.20") for _ in range(4)]
        for client in held:
            await client.open()
        trickling = [asyncio.ensure_future(c.trickle_until_answered()) for c in held]
        await asyncio.sleep(0.3)
        extra = SlowClient(port, "127.0.0.20")
        await extra.open()
        status, body, seconds = await extra.trickle_until_answered()
        assert (status, body) == (429, {"error": TOO_MANY_SLOW.format(limit=4), "status": 429})
        assert seconds < 1.5
        other = SlowClient(port, "127.0.0.21")  # another address has a share of its own
        await other.open()
        assert (await other.trickle_until_answered())[0] == 408
        assert [answer[0] for answer in await asyncio.gather(*trickling)] == [408] * 4


async def test_an_oversized_content_length_is_refused_before_the_body(tiny_model, tmp_path):
    async with live_server(tiny_model, tmp_path / "log.db") as live:
        port = int(live.url.rsplit(":", 1)[1])
        client = SlowClient(port, "127.0.0.1")
        started = time.monotonic()
        await client.open(declared=10_000_000)
        status, body = await asyncio.wait_for(client.response(), 5)
        assert (status, body) == (413, {"error": TOO_LARGE.format(limit=64 * 1024), "status": 413})
        assert time.monotonic() - started < 2


async def test_a_connection_that_never_finishes_its_headers_is_closed(tiny_model, tmp_path):
    settings = ServerSettings(header_timeout_seconds=1.5)
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        port = int(live.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: bot\r\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""
        assert 1.0 < time.monotonic() - started < 5
        writer.close()
