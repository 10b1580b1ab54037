"""Load on `supportbot serve`: latency and throughput at several concurrency levels.

Starts the real server (`python -m supportbot.cli serve`) on a free loopback port with the demo
bot (trained first if `models/banking-demo` is missing), then drives the Rasa REST
webhook with an aiohttp client: at each concurrency level, that many clients send
BANKING77 test messages back to back, each message as a new conversation (so the
per-sender rate limit never answers instead of the model). The raw encoder's batched
throughput (the serving int8 encoder, batches of 64, no server) is the ceiling the
server's throughput is compared with. It is measured in this process, with the server
idle, just before the first level, between levels and after the last: each level is
compared with the mean of the measurements on either side of it, because this machine's
speed drifts by a quarter within minutes. The server's CPU time includes its child
processes (the encoder runs in one).

With `--db`, each store is measured in turn in the same run (one fresh server each):
`sqlite` (a file in a temporary directory), a SQLite path, `postgresql` (a server started
for the run by supportbot.testing.postgres, fsync off like the tests'), or a
postgresql:// URL. Each level also reports the serving processes' resident memory.

    python benchmarks/load.py [--model models/banking-demo] [--concurrency 1 16 64]
                              [--requests 600] [--db sqlite postgresql] [--out results/load]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.encoder_latency import machine_info  # noqa: E402
from bot.messages import RATE_LIMITED  # noqa: E402
from supportbot.testing import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "banking77" / "test.csv"
DEMO_DATA = ROOT / "data" / "banking_demo"
ENCODER_BATCH = 64
WARM_UP = 200
"""Requests sent before the measured levels, at concurrency 4."""
JSON = {"Content-Type": "application/json"}
"""The client shares the server's two cores, so it does as little per request as it can
(its own CPU time per request is reported beside the server's)."""


def read_messages(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as rows:
        return [row["text"] for row in csv.DictReader(rows)]


def ensure_model(model: Path) -> None:
    """Train the demo bot the way `supportbot demo` does, once."""
    if (model / "manifest.json").is_file():
        return
    from training.train import train_model

    print(f"training the demo bot into {model}", flush=True)
    train_model(DEMO_DATA, model, progress=lambda line: None)


class EncoderCeiling:
    """The serving int8 encoder alone, in the two ways it can use the cores: the server's
    (one thread per run, a run per core) and one run at a time with every core on it.
    A measurement is the faster of the two, in messages per second."""

    def __init__(self, model: Path, texts: list[str]):
        from retrieval.model_dir import read_manifest
        from retrieval.onnx_encoder import OnnxEncoder, serving_encoder

        onnx_dir = model / read_manifest(model).classifier.onnx
        self.encoders = {
            "runs side by side": serving_encoder(onnx_dir),
            "one run, all cores": OnnxEncoder(onnx_dir),
        }
        self.texts = texts
        self.measurements: list[dict[str, float]] = []

    def measure(self, seconds: float = 5.0) -> float:
        rates = {
            name: round(_messages_per_second(encoder, self.texts, seconds), 1)
            for name, encoder in self.encoders.items()
        }
        self.measurements.append(rates)
        return max(rates.values())


def _messages_per_second(encoder, texts: list[str], seconds: float) -> float:
    encoder.encode(texts[:ENCODER_BATCH])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        start = (done * 7) % max(1, len(texts) - ENCODER_BATCH)
        encoder.encode(texts[start : start + ENCODER_BATCH])
        done += ENCODER_BATCH
    return done / (time.perf_counter() - started)


class Server:
    """`supportbot serve` in a child process, on loopback, with its own log database."""

    def __init__(self, model: Path, workdir: Path, db: str | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "supportbot.cli", "serve", "--model", str(model),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--db", db or str(workdir / "load.db"),
        ]  # fmt: skip
        self.log = open(workdir / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def wait_ready(self, session, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see its log")
            try:
                async with session.get(f"{self.url}/health") as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def cpu_seconds(self) -> float:
        """CPU time the server has used: all its threads and its child processes (the
        encoder runs in one). Linux /proc; NaN elsewhere."""
        try:
            return sum(_process_cpu_seconds(pid) for pid in _process_tree(self.process.pid))
        except OSError:
            return float("nan")

    def rss_mb(self) -> float:
        """Resident memory of the server and its children (Linux /proc), in MB."""
        try:
            return round(
                sum(_process_rss_kb(pid) for pid in _process_tree(self.process.pid)) / 1024, 1
            )
        except OSError:
            return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        finally:
            self.log.close()


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from each thread's /proc children list."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            pending += [int(c) for c in (task / "children").read_text().split()]
    return tree


def _process_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    session, url: str, texts: list[str], concurrency: int, total: int, first: int = 0
) -> dict:
    """`concurrency` customers share `total` requests; each waits for its reply first.
    Messages are taken from `texts[first:]`, so each level sends messages no earlier level
    sent (nothing is answered from a warm cache)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))
    webhook = f"{url}/webhooks/rest/webhook"

    async def customer(number: int) -> None:
        for index in counter:
            # One conversation per request: a single sender sending hundreds of messages back
            # to back would be answered by the per-sender rate limit, not by the model.
            text = texts[(first + index) % len(texts)]
            body = json.dumps({"sender": f"load-{concurrency}-{index}", "message": text})
            started = time.perf_counter()
            try:
                async with session.post(webhook, data=body, headers=JSON) as response:
                    payload = await response.read()
                    if response.status != 200:
                        errors[str(response.status)] = errors.get(str(response.status), 0) + 1
                        continue
                    if any(reply.get("text") == RATE_LIMITED for reply in json.loads(payload)):
                        errors["rate_limited"] = errors.get("rate_limited", 0) + 1
                        continue
            except OSError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    started, client_cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(customer(n) for n in range(concurrency)))
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    timings = np.array(latencies) if latencies else np.array([float("nan")])
    return {
        "concurrency": concurrency,
        "requests": total,
        "ok": len(latencies),
        "errors": errors,
        "median_ms": round(float(np.median(timings)), 2),
        "p99_ms": round(float(np.percentile(timings, 99)), 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "client_cpu_ms": round(client_cpu * 1000 / total, 2),
    }


async def drive(
    server: Server, ceiling: EncoderCeiling, texts: list[str], levels: list[int], total: int
) -> list[dict]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=max(levels) + 8)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await server.wait_ready(session)
        await run_level(session, server.url, texts, 4, WARM_UP, first=0)  # not reported
        results = []
        before = ceiling.measure()  # blocks the loop: nothing else runs meanwhile
        for number, level in enumerate(levels):
            cpu = server.cpu_seconds()
            first = WARM_UP + number * total
            result = await run_level(session, server.url, texts, level, total, first)
            result["server_cpu_ms"] = round((server.cpu_seconds() - cpu) * 1000 / total, 2)
            result["server_rss_mb"] = server.rss_mb()
            after = ceiling.measure()
            result["ceiling"] = round((before + after) / 2, 1)
            result["share_of_ceiling"] = round(result["throughput_rps"] / result["ceiling"], 3)
            print(json.dumps(result), flush=True)
            results.append(result)
            before = after
        return results


def report(
    command: str, loads: list[float], results: list[dict], ceiling: EncoderCeiling
) -> list[str]:
    measured = "; ".join(
        "/".join(f"{rate:.1f}" for rate in rates.values()) for rates in ceiling.measurements
    )
    lines = [
        "# Load benchmark",
        "",
        f"- command: `{command}`",
        *machine_info(loads),
        f"- raw encoder throughput (serving int8 encoder, batches of {ENCODER_BATCH}, no "
        f"server), messages/s, {' / '.join(ceiling.encoders)}, before the first level, "
        f"between levels and after the last: {measured}",
        "",
        "| store | concurrency | requests | errors | median ms | p99 ms | throughput req/s "
        "| raw encoder msg/s | % of raw encoder | server CPU ms per request "
        "| client CPU ms per request | server RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        errors = sum(r["errors"].values())
        lines.append(
            f"| {r['store']} | {r['concurrency']} | {r['requests']} | {errors} "
            f"| {r['median_ms']:.2f} "
            f"| {r['p99_ms']:.2f} | {r['throughput_rps']:.1f} | {r['ceiling']:.1f} "
            f"| {100 * r['share_of_ceiling']:.1f}% "
            f"| {r['server_cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} | {r['server_rss_mb']} |"
        )
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "banking-demo")
    parser.add_argument("--messages", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=600, help="requests per level")
    parser.add_argument("--out", type=Path, default=Path("results/load"))
    parser.add_argument(
        "--db",
        nargs="+",
        default=["sqlite"],
        help="stores to measure in turn: sqlite, a SQLite path, postgresql, or a postgresql:// URL",
    )
    args = parser.parse_args(argv)
    if min(args.concurrency) < 1 or args.requests < 1:
        parser.error("--concurrency and --requests: expected positive numbers")
    return args


def store_label(db: str) -> str:
    """The store's name in the report: no URL (it may name a host or a user)."""
    return "postgresql" if db.startswith("postgresql") else "sqlite"


def measure_store(args: argparse.Namespace, db: str, ceiling, texts: list[str]) -> list[dict]:
    """One fresh server on store `db`, driven through every level."""
    with tempfile.TemporaryDirectory(prefix="load-bench-") as scratch, ExitStack() as stack:
        url = None if db == "sqlite" else db
        if db == "postgresql":
            from supportbot.testing.postgres import running_server

            url = stack.enter_context(running_server()).fresh_database()
        if url and url.startswith("postgresql"):
            upgrade = [sys.executable, "-m", "supportbot.cli", "db", "upgrade", "--db", url]
            subprocess.run(upgrade, cwd=ROOT, check=True)
        server = Server(args.model, Path(scratch), url)
        try:
            return asyncio.run(drive(server, ceiling, texts, args.concurrency, args.requests))
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/load.py", *argv])
    texts = read_messages(args.messages)
    ensure_model(args.model)
    loads = [os.getloadavg()[0]]
    ceiling = EncoderCeiling(args.model, texts)
    results = []
    for db in args.db:
        for result in measure_store(args, db, ceiling, texts):
            results.append({"store": store_label(db), **result})
    loads.append(os.getloadavg()[0])
    lines = report(command, loads, results, ceiling)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = {
        "command": command,
        "encoder_messages_per_second": ceiling.measurements,
        "levels": results,
    }
    (args.out / "load.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return summary


if __name__ == "__main__":
    main()
