"""Slow-body clients against a real server: do customers' turns still get answered?

Serves MODEL_DIR in-process on a free loopback port, opens `--slow` connections (spread
over ten loopback source addresses, 127.0.0.2-11) that send their headers and then one
byte of body every `--interval` seconds, and while they are held sends `--turns` normal
REST turns, a few at a time. Prints the normal turns' statuses and latencies and what the
slow connections got. Run it on a branch and on its baseline with the same arguments:

    python benchmarks/slow_clients.py MODEL_DIR [--slow 300] [--hold 20] [--turns 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

from retrieval.bot_model import BotModel
from supportbot.testing import live_server

WEBHOOK = "/webhooks/rest/webhook"


async def slow_client(port: int, source: str, hold: float, interval: float) -> str:
    """Trickle a body until answered or `hold` seconds pass: the status, or "held"."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    head = f"POST {WEBHOOK} HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
    writer.write((head + "Content-Length: 1000\r\n\r\n{").encode())
    answer = asyncio.ensure_future(reader.readuntil(b"\r\n"))
    deadline = time.monotonic() + hold
    try:
        while time.monotonic() < deadline and not answer.done():
            await asyncio.wait([answer], timeout=interval)
            if not answer.done():
                writer.write(b" ")
                await writer.drain()
        return answer.result().split()[1].decode() if answer.done() else "held"
    except (ConnectionError, asyncio.IncompleteReadError):
        return "reset"
    finally:
        answer.cancel()
        writer.close()


async def normal_turns(url: str, count: int, start_after: float) -> list[tuple[int, float]]:
    await asyncio.sleep(start_after)
    results = []
    async with aiohttp.ClientSession() as session:

        async def one(number: int) -> None:
            body = {"sender": f"customer-{number}", "message": "where is my order?"}
            started = time.perf_counter()
            async with session.post(url + WEBHOOK, json=body) as response:
                await response.read()
                results.append((response.status, (time.perf_counter() - started) * 1000))

        for first in range(0, count, 4):
            await asyncio.gather(*(one(n) for n in range(first, min(first + 4, count))))
    return results


async def main(args: argparse.Namespace) -> None:
    model = BotModel.load(args.model)
    with tempfile.TemporaryDirectory() as folder:
        async with live_server(model, Path(folder) / "log.db") as live:
            port = int(live.url.rsplit(":", 1)[1])
            sources = [f"127.0.0.{2 + n % 10}" for n in range(args.slow)]
            slow = [slow_client(port, s, args.hold, args.interval) for s in sources]
            turns = normal_turns(live.url, args.turns, start_after=2.0)
            *outcomes, results = await asyncio.gather(*slow, turns)
    statuses = Counter(status for status, _ in results)
    latencies = [ms for status, ms in results if status == 200]
    print(f"slow connections: {args.slow}, held up to {args.hold:g} s: {dict(Counter(outcomes))}")
    print(f"normal turns: {args.turns}, statuses {dict(statuses)}")
    if latencies:
        p50 = statistics.median(latencies)
        print(f"answered turns: median {p50:.0f} ms, max {max(latencies):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--turns", type=int, default=64)
    asyncio.run(main(parser.parse_args()))
