"""Two `supportbot serve` replicas on one PostgreSQL against one, with a round-robin client.

Starts a PostgreSQL for the run (supportbot.testing.postgres), applies `supportbot db
upgrade`, then starts the replicas on loopback. N conversations of T turns each are sent
at a fixed concurrency; turn t of a conversation goes to replica t mod R, so every turn
alternates replicas. A failed request (connection refused or reset, a 5xx) is retried on the
next replica. With --kill-after K, the first replica is killed with SIGKILL after K answered
turns: what it had not answered must be retried on the other one. Afterwards the log is
queried: every conversation must hold each answered turn exactly once, in the order sent.

    python benchmarks/replicas.py [--replicas 1 2] [--conversations 1000] [--turns 5]
                                  [--concurrency 32] [--kill-after 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.load import (  # noqa: E402
    DEFAULT_DATA,
    ROOT,
    Server,
    _process_tree,
    ensure_model,
    read_messages,
)

JSON = {"Content-Type": "application/json"}


def texts_without_digits(path: Path) -> list[str]:
    """Messages the redaction leaves as sent, so the log can be compared with them."""
    return [text for text in read_messages(path) if not re.search(r"\d", text)]


class Client:
    """Sends every conversation's turns in order, each to the next replica."""

    def __init__(self, urls: list[str], texts: list[str], turns: int, kill_after: int | None):
        self.urls, self.texts, self.turns, self.kill_after = urls, texts, turns, kill_after
        self.dead: set[int] = set()
        self.latencies: list[float] = []
        self.answered: dict[str, list[str]] = {}
        self.retries, self.errors, self.on_kill = 0, 0, None

    async def conversation(self, session, number: int) -> None:
        sender = f"replica-bench-{number}"
        self.answered[sender] = []
        for turn in range(self.turns):
            text = self.texts[(number * self.turns + turn) % len(self.texts)]
            if await self.send(session, sender, text, first=turn + number):
                self.answered[sender].append(text)

    async def send(self, session, sender: str, text: str, first: int) -> bool:
        body = json.dumps({"sender": sender, "message": text})
        for attempt in range(len(self.urls) * 2):
            replica = (first + attempt) % len(self.urls)
            if replica in self.dead:
                continue
            started = time.perf_counter()
            try:
                url = f"{self.urls[replica]}/webhooks/rest/webhook"
                async with session.post(url, data=body, headers=JSON) as response:
                    await response.read()
                    if response.status >= 500:
                        raise OSError(f"HTTP {response.status}")
                    if response.status != 200:
                        self.errors += 1
                        return False
            except (TimeoutError, OSError, aiohttp.ClientError):
                self.retries += 1
                continue
            self.latencies.append((time.perf_counter() - started) * 1000)
            if self.kill_after is not None and len(self.latencies) == self.kill_after:
                self.on_kill()
            return True
        self.errors += 1
        return False


def kill_tree(server: Server) -> None:
    for pid in reversed(_process_tree(server.process.pid)):
        os.kill(pid, signal.SIGKILL)


def check_log(url: str, answered: dict[str, list[str]]) -> dict:
    """Each conversation's logged messages, in log order, against what was answered."""
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT c.sender_id, t.message FROM turns t JOIN conversations c"
            " ON c.id = t.conversation_id ORDER BY t.id"
        ).fetchall()
    logged: dict[str, list[str]] = {}
    for sender, message in rows:
        logged.setdefault(sender, []).append(message)
    missing = duplicated = disordered = 0
    for sender, sent in answered.items():
        log = logged.get(sender, [])
        missing += sum(1 for text in sent if text not in log)
        duplicated += len(log) - len(set(log))
        in_order = [text for text in log if text in sent]
        disordered += int(in_order != sorted(set(in_order), key=sent.index))
    return {
        "logged_turns": len(rows),
        "answered_turns": sum(len(sent) for sent in answered.values()),
        "answered_missing_from_log": missing,
        "duplicated_in_log": duplicated,
        "conversations_out_of_order": disordered,
    }


async def drive(urls, texts, args, servers) -> Client:
    client = Client(urls, texts, args.turns, args.kill_after)

    def kill_first() -> None:
        client.dead.add(0)
        kill_tree(servers[0])

    client.on_kill = kill_first
    connector = aiohttp.TCPConnector(limit=args.concurrency + 8)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for server in servers:
            await server.wait_ready(session)
        pending = iter(range(args.conversations))

        async def worker() -> None:
            for number in pending:
                await client.conversation(session, number)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    return client


def run(args: argparse.Namespace, replicas: int, texts: list[str]) -> dict:
    from supportbot.testing.postgres import running_server

    with running_server() as postgres, tempfile.TemporaryDirectory() as scratch:
        url = postgres.fresh_database()
        upgrade = [sys.executable, "-m", "supportbot.cli", "db", "upgrade", "--db", url]
        subprocess.run(upgrade, cwd=ROOT, check=True, capture_output=True)
        servers = []
        for number in range(replicas):
            os.environ["SUPPORTBOT_REPLICA"] = f"bench-{number + 1}"
            folder = Path(scratch) / str(number)
            folder.mkdir()
            servers.append(Server(args.model, folder, url))
        try:
            started = time.perf_counter()
            client = asyncio.run(drive([s.url for s in servers], texts, args, servers))
            wall = time.perf_counter() - started
            rss = [server.rss_mb() for server in servers if server.process.poll() is None]
        finally:
            for server in servers:
                if server.process.poll() is None:
                    server.stop()
        timings = np.array(client.latencies or [float("nan")])
        return {
            "replicas": replicas,
            "killed": args.kill_after is not None and replicas > 1,
            "turns_sent": args.conversations * args.turns,
            "throughput_turns_per_s": round(len(client.latencies) / wall, 1),
            "p50_ms": round(float(np.median(timings)), 1),
            "p99_ms": round(float(np.percentile(timings, 99)), 1),
            "retries": client.retries,
            "unanswered": client.errors,
            "rss_mb_per_live_replica": rss,
            **check_log(url, client.answered),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "banking-demo")
    parser.add_argument("--messages", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kill-after", type=int, default=None, help="answered turns")
    args = parser.parse_args(argv)
    ensure_model(args.model)
    texts = texts_without_digits(args.messages)
    print(json.dumps({"load_before": os.getloadavg()}))
    for replicas in args.replicas:
        print(json.dumps(run(args, replicas, texts)), flush=True)
    print(json.dumps({"load_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
