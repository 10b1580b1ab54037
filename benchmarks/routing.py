"""Routing quality on CLINC150: intent answers, knowledge-base answers and fallbacks.

Of CLINC150's 150 intents, a fixed seed picks 100 the bot is trained on (with their
responses) and 50 whose training utterances become knowledge-base question/answer pairs
with one answer per intent. The bot is trained with `train_model` on that project
(CLINC's own `val` and `oos_val` tune the thresholds; test data is never read in
training), served by the real server on loopback, and every test message is sent through
the Rasa REST webhook as a new customer. Counted:

- trained-intent test messages answered with their intent's response;
- knowledge-base-intent test messages answered with their intent's knowledge-base answer;
- `oos_test` messages given no confident answer (a fallback or a clarifying question).

    python benchmarks/routing.py [--seed 0] [--limit N] [--out results/routing]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.encoder_latency import machine_info  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"
OOS = "oos"
NO_ANSWER = {"fallback", "clarify", "handoff"}


def split_intents(intents: list[str], seed: int) -> tuple[list[str], list[str]]:
    order = np.random.default_rng(seed).permutation(sorted(intents))
    return sorted(order[:100].tolist()), sorted(order[100:150].tolist())


def intent_answer(intent: str) -> str:
    return f"[{intent}] Here is what you need to know about {intent.replace('_', ' ')}."


def kb_answer(intent: str) -> str:
    return f"[kb:{intent}] Our help centre explains {intent.replace('_', ' ')} here."


def write_project(data: dict, trained: list[str], kb: list[str], folder: Path) -> Path:
    """A supportbot project: CLINC data_full.json without test splits and without the
    knowledge-base intents, a bot.yml with one response per trained intent, and a
    question/answer CSV for the knowledge-base intents."""
    keep = set(trained)
    clinc = {split: [row for row in data[split] if row[1] in keep] for split in ("train", "val")}
    clinc.update(oos_train=data["oos_train"], oos_val=data["oos_val"])
    (folder / "data" / "kb").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "data_full.json").write_text(json.dumps(clinc), encoding="utf-8")
    bot = {"version": 1, "intents": {i: {"responses": [intent_answer(i)]} for i in trained}}
    (folder / "data" / "bot.yml").write_text(yaml.safe_dump(bot), encoding="utf-8")
    kb_set = set(kb)
    with open(folder / "data" / "kb" / "answers.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["question", "answer", "title"])
        for text, intent in data["train"]:
            if intent in kb_set:
                writer.writerow([text, kb_answer(intent), intent.replace("_", " ")])
    config = {"name": "clinc-routing", "data": ["data"]}
    (folder / "supportbot.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def test_items(data: dict, trained: list[str], kb: list[str], limit: int | None) -> list:
    """(text, group, expected answer or None), in a fixed order."""
    groups = {"intent": set(trained), "kb": set(kb)}
    items = []
    for text, intent in data["test"]:
        group = next(g for g, members in groups.items() if intent in members)
        expected = intent_answer(intent) if group == "intent" else kb_answer(intent)
        items.append((text, group, expected))
    items += [(text, "oos", None) for text, _ in data["oos_test"]]
    if limit:
        rng = np.random.default_rng(0)
        items = [items[i] for i in sorted(rng.permutation(len(items))[:limit])]
    return items


def judged(group: str, expected: str | None, replies: list[dict]) -> bool:
    texts = " ".join(str(reply.get("text", "")) for reply in replies)
    if group == "oos":
        return not any(tag in texts for tag in ("[kb:", "] Here is what you need"))
    return expected is not None and expected in texts


async def send_all(url: str, items: list, concurrency: int = 8) -> list[bool]:
    import aiohttp

    results: list[bool] = [False] * len(items)
    queue = iter(range(len(items)))

    async def worker(session) -> None:
        for index in queue:
            text, group, expected = items[index]
            body = {"sender": f"routing-{index}", "message": text}
            async with session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
                replies = await response.json() if response.status == 200 else []
            results[index] = judged(group, expected, replies)

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return results


async def serve_and_send(model, db_path: Path, items: list) -> list[bool]:
    from supportbot.testing import live_server

    async with live_server(model, db_path) as server:
        return await send_all(server.url, items)


def score(items: list, results: list[bool]) -> dict:
    summary = {}
    for group in ("intent", "kb", "oos"):
        hits = [ok for (_, g, _), ok in zip(items, results, strict=True) if g == group]
        summary[group] = {"messages": len(hits), "correct": round(float(np.mean(hits)), 4)}
    return summary


def run(args: argparse.Namespace) -> dict:
    from retrieval.bot_model import BotModel
    from training.train import train_model

    data = json.loads(args.data.read_text(encoding="utf-8"))
    intents = sorted({intent for _, intent in data["train"]})
    trained, kb = split_intents(intents, args.seed)
    with tempfile.TemporaryDirectory(prefix="routing-") as scratch:
        project = write_project(data, trained, kb, Path(scratch) / "project")
        started = time.perf_counter()
        train_model(project, Path(scratch) / "model", progress=lambda line: None)
        train_seconds = time.perf_counter() - started
        items = test_items(data, trained, kb, args.limit)
        model = BotModel.load(Path(scratch) / "model")
        results = asyncio.run(serve_and_send(model, Path(scratch) / "routing.db", items))
    return {
        "seed": args.seed,
        "trained_intents": trained,
        "kb_intents": kb,
        "train_seconds": round(train_seconds, 1),
        "groups": score(items, results),
    }


def report(command: str, loads: list[float], result: dict, limit: int | None) -> list[str]:
    groups = result["groups"]
    lines = ["# Routing benchmark (CLINC150)", ""]
    if limit:
        lines += [f"**SMOKE RUN (limit={limit}): not a benchmark figure**", ""]
    lines += [
        f"- command: `{command}`",
        *machine_info(loads),
        f"- seed {result['seed']}: knowledge-base intents {', '.join(result['kb_intents'])}",
        f"- training: {result['train_seconds']} s",
        "",
        "| messages | count | answered as expected | target |",
        "|---|---:|---:|---:|",
        f"| trained intents: their response | {groups['intent']['messages']} "
        f"| {groups['intent']['correct']:.2%} | >= 95% |",
        f"| knowledge-base intents: their answer | {groups['kb']['messages']} "
        f"| {groups['kb']['correct']:.2%} | >= 85% |",
        f"| oos_test: no confident answer | {groups['oos']['messages']} "
        f"| {groups['oos']['correct']:.2%} | >= 80% |",
    ]
    return lines


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="smoke run: test messages")
    parser.add_argument("--out", type=Path, default=Path("results/routing"))
    args = parser.parse_args(argv)
    command = shlex.join(["python", "benchmarks/routing.py", *argv])
    loads = [os.getloadavg()[0]]
    result = run(args)
    loads.append(os.getloadavg()[0])
    lines = report(command, loads, result, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "routing.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print("\n".join(lines))
    return result


if __name__ == "__main__":
    main()
