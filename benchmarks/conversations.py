"""The banking demo on multi-turn conversations, each turn judged automatically: the new
dialogue rules against the old ones (no follow-up reading, buttons by payload name only,
one knowledge-base threshold for every hit) in the same run, on the same trained model.

Conversations are built with a fixed seed from data training never reads:
- BANKING77 `test` questions (expect their intent), each followed by one of the
  follow-ups customers write ("it's been over two weeks now and still nothing"), which is
  right when it keeps the first turn's intent, or asks to clarify, and wrong on any other
  confident intent;
- the demo's buttons (each payload a response offers, clicked after the question);
- help-centre questions (benchmarks/kb_threshold.py's held-out list: expect the article);
- small talk ("thanks, bye", "I need help", "are you still there?": expect no miss);
- CLINC150 `oos_test` messages (expect no confident intent and no article).

    python benchmarks/conversations.py --model MODEL_DIR [--conversations 150] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.kb_threshold import ARTICLE_QUESTIONS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
FOLLOW_UPS = [
    "it's been over two weeks now and still nothing",
    "it happened again today",
    "and what should I do now?",
    "is that normal?",
    "it still isn't working",
    "why does that happen?",
]
SMALL_TALK = ["thanks, bye", "I need help", "are you still there?", "ok thank you"]
NO_MISS = {"greeting", "thanks", "goodbye", "still_there", "menu", "bot_identity"}


@dataclass(frozen=True)
class Expect:
    kind: str  # intent, follow_up, button, article, small_talk, oos
    value: str | None = None


def build(seed: int, count: int, responses: dict) -> list[list[tuple[str, Expect]]]:
    rng = random.Random(seed)
    with open(SHARED / "banking77" / "test.csv", encoding="utf-8") as handle:
        test = [(row["text"], row["category"]) for row in csv.DictReader(handle)]
    oos = [
        t for t, _ in json.loads((SHARED / "clinc150" / "data_full.json").read_text())["oos_test"]
    ]
    conversations = []
    for number in range(count):
        text, intent = rng.choice(test)
        turns = [(text, Expect("intent", intent))]
        buttons = [b for r in responses.get(intent, []) for b in r.buttons]
        if buttons and number % 3 == 0:
            turns.append((rng.choice(buttons)[1], Expect("button")))
        else:
            turns.append((rng.choice(FOLLOW_UPS), Expect("follow_up", intent)))
        if number % 2 == 0:
            question, title = rng.choice(ARTICLE_QUESTIONS)
            turns.append((question, Expect("article", title)))
        if number % 3 == 1:
            turns.append((rng.choice(oos), Expect("oos")))
        turns.append((rng.choice(SMALL_TALK), Expect("small_talk")))
        conversations.append(turns)
    return conversations


def judge(expect: Expect, record, replies) -> tuple[bool, bool]:
    """(right, confidently wrong intent) for one turn."""
    action = record.action if record else "rate_limited"
    intent = None if record is None or record.out_of_scope else record.intent
    confident = action in {"intent_response", "action"} and intent is not None
    if expect.kind == "intent":
        return (
            action == "intent_response" and intent == expect.value,
            confident and intent != expect.value,
        )
    if expect.kind == "follow_up":
        kept = action == "intent_response" and intent == expect.value
        return kept or action == "clarify", confident and intent != expect.value
    if expect.kind == "button":
        return action not in {"fallback", "error", "action_failed"} and bool(replies), False
    if expect.kind == "article":
        return record is not None and record.metadata.get("article") == expect.value, confident
    if expect.kind == "small_talk":
        return action in NO_MISS, False
    return action in {"fallback", "clarify"}, False


async def replay(model, conversations, *, old_rules: bool) -> dict:
    from bot.channels.base import InboundMessage
    from bot.server.runtime import dialogue_runtime
    from bot.server.settings import AppDeps
    from supportbot.cli.conversation_tests import _recording_store
    from supportbot.cli.serving import server_settings

    store = _recording_store()
    counts: dict[str, list[int]] = {}
    wrong_in_scope = in_scope = 0
    async with dialogue_runtime(
        server_settings(model, channels=False), AppDeps(model, store)
    ) as rt:
        if old_rules:
            rt.manager.stages = [
                s
                for s in rt.manager.stages
                if getattr(s, "name", "") not in {"follow_ups", "clicks"}
            ]
        for number, turns in enumerate(conversations):
            for text, expect in turns:
                store.last = None
                replies = await rt.manager.handle(InboundMessage(f"b{number}", text, "bench"))
                right, wrong = judge(expect, store.last, replies)
                counts.setdefault(expect.kind, [0, 0])
                counts[expect.kind][0] += right
                counts[expect.kind][1] += 1
                if expect.kind in {"intent", "follow_up"}:
                    in_scope += 1
                    wrong_in_scope += wrong
    total = sum(n for _, n in counts.values())
    return {
        "turns": total,
        "right": round(sum(r for r, _ in counts.values()) / total, 4),
        "in_scope_confidently_wrong": round(wrong_in_scope / max(in_scope, 1), 4),
        "by_kind": {k: f"{r}/{n}" for k, (r, n) in sorted(counts.items())},
    }


def main(argv: list[str] | None = None) -> int:
    from retrieval.bot_model import BotModel

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--conversations", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = BotModel.load(args.model)
    conversations = build(args.seed, args.conversations, model.responses)
    started = time.perf_counter()
    new = asyncio.run(replay(model, conversations, old_rules=False))
    info = model.manifest.retrieval
    article = info.article_min_score if info else None
    if info is not None:
        info.article_min_score = None  # the old rule: one threshold for every hit
    old = asyncio.run(replay(model, conversations, old_rules=True))
    print(json.dumps({"seed": args.seed, "conversations": len(conversations),
                      "article_min_score": article, "min_score": info.min_score if info else None,
                      "old_rules": old, "new_rules": new,
                      "seconds": round(time.perf_counter() - started, 1)}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
