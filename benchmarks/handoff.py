"""Agent to customer: how long an agent's message takes from the agent's POST to the
customer's web chat WebSocket receiving it.

Starts the real server (`supportbot serve`, a child process on a free loopback port) with
a fresh log and an agent account, opens a customer's widget socket, asks for a person,
claims the conversation with the agent's bearer token, then sends `--messages` agent
messages one at a time, each timed until the widget's frame arrives. The same runs again
while `--load` REST customers keep the bot busy in the background (each message a new
conversation). Prints median and p95 of both runs and the load average.

    python benchmarks/handoff.py [--model models/banking-demo] [--messages 200] [--load 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load import DEFAULT_DATA, ROOT, Server, ensure_model, read_messages  # noqa: E402

FALLBACK_TEXTS = ["where is my card?", "how do I reset my PIN", "my transfer failed"]


def add_agent(db: Path) -> str:
    command = [sys.executable, "-m", "supportbot.cli", "agents", "add", "bench", "--db", str(db)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return done.stdout.strip().splitlines()[-1]


async def widget(session: aiohttp.ClientSession, url: str):
    ws = await session.ws_connect(url + "/webchat/ws", origin=url)
    await ws.send_json({"type": "hello", "token": None})
    welcome = await ws.receive_json(timeout=10)
    assert welcome["type"] == "welcome", welcome
    return ws


async def until(ws, kind: str, timeout: float = 30.0) -> dict:
    while True:
        frame = await ws.receive_json(timeout=timeout)
        if frame["type"] == kind:
            return frame


async def claimed_conversation(session, url: str, auth: dict, ws) -> str:
    async with session.get(url + "/agent/api/me", headers=auth) as response:
        assert response.status == 200, await response.text()  # the agent is present
    await ws.send_json({"type": "message", "text": "I want to talk to a human"})
    await until(ws, "state")
    async with session.get(url + "/agent/api/conversations", headers=auth) as response:
        [entry] = [c for c in (await response.json())["conversations"] if c["status"] == "waiting"]
    conversation = entry["conversation_id"]
    async with session.post(f"{url}/agent/api/conversations/{conversation}/claim", headers=auth):
        pass
    await until(ws, "person")  # "bench joined"
    return conversation


async def timed_sends(session, url: str, auth: dict, ws, conversation: str, count: int):
    endpoint = f"{url}/agent/api/conversations/{conversation}/messages"
    times: list[float] = []
    for number in range(count):
        text = f"agent message {number}"
        started = time.perf_counter()
        async with session.post(endpoint, json={"text": text}, headers=auth) as response:
            assert response.status == 201, await response.text()
        while (await until(ws, "person"))["message"]["text"] != text:
            pass
        times.append((time.perf_counter() - started) * 1000)
    return times


async def background(session, url: str, texts: list[str], clients: int, stop: asyncio.Event):
    served = 0

    async def customer(number: int) -> None:
        nonlocal served
        turn = 0
        while not stop.is_set():
            body = {"sender": f"load-{number}-{turn}", "message": texts[turn % len(texts)]}
            async with session.post(url + "/webhooks/rest/webhook", json=body) as response:
                await response.read()
            served += 1
            turn += 1

    await asyncio.gather(*(customer(n) for n in range(clients)))
    return served


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return f"{name}: n={len(times)} median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"


async def run(args: argparse.Namespace, workdir: Path) -> None:
    secret = add_agent(workdir / "load.db")
    auth = {"Authorization": f"Bearer bench:{secret}"}
    server = Server(args.model, workdir)
    try:
        async with aiohttp.ClientSession() as session:
            await server.wait_ready(session)
            ws = await widget(session, server.url)
            conversation = await claimed_conversation(session, server.url, auth, ws)
            await timed_sends(session, server.url, auth, ws, conversation, 20)  # warm up
            quiet = await timed_sends(session, server.url, auth, ws, conversation, args.messages)
            print(summary("agent send -> widget receive, idle bot", quiet), flush=True)
            stop = asyncio.Event()
            load = asyncio.create_task(background(session, server.url, args.texts, args.load, stop))
            await asyncio.sleep(2.0)
            started = time.perf_counter()
            busy = await timed_sends(session, server.url, auth, ws, conversation, args.messages)
            stop.set()
            served = await load
            rate = served / (time.perf_counter() - started + 2.0)
            print(summary(f"same, bot at concurrency {args.load}", busy), flush=True)
            print(f"background: {served} REST turns, {rate:.0f}/s", flush=True)
            await ws.close()
    finally:
        server.stop()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "banking-demo")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--load", type=int, default=16)
    args = parser.parse_args(argv)
    ensure_model(args.model)
    args.texts = read_messages(DEFAULT_DATA)[:500] if DEFAULT_DATA.is_file() else FALLBACK_TEXTS
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
