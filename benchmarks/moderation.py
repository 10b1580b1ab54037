"""Moderation on the labelled evaluation set (data/moderation_eval/messages.jsonl):
personal-data span precision/recall per type, the abuse confusion matrix for the word
lists, the classifier and both combined, and the time moderation adds to a turn.

    python benchmarks/moderation.py [--out results/moderation.json] [--rounds 5]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

from bot.moderation import Moderator
from bot.moderation.abuse import AbuseDetector
from bot.moderation.output import redact_reply
from supportbot.config import ModerationConfig

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "data" / "moderation_eval" / "messages.jsonl"
LABELS = ("none", "profanity", "insult", "threat", "injection")
SHARED = Path(os.environ.get("SUPPORTBOT_DATA", ROOT.parent / "shared" / "data"))
REPLY = "You can freeze your card in the app under Cards > Freeze. Anything else I can help with?"


def load(path: Path = EVAL) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def machine() -> dict:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }


def span_scores(rows: list[dict], moderator: Moderator) -> dict:
    """Redaction recall: a gold span counts when every character is inside a predicted span
    (nothing leaks). Precision: a predicted span counts when it overlaps a gold span.
    `exact` requires the same start, end and type."""
    counts = defaultdict(Counter)
    for row in rows:
        gold = [(s["start"], s["end"], s["type"]) for s in row["pii"]]
        predicted = [(s.start, s.end, s.type) for s in moderator.pii.find(row["text"])]
        covered = _covered(predicted)
        for start, end, kind in gold:
            hit = all(i in covered for i in range(start, end))
            counts[kind]["gold"] += 1
            counts[kind]["recalled"] += hit
            counts[kind]["exact"] += (start, end, kind) in predicted
        for start, end, kind in predicted:
            counts[kind]["predicted"] += 1
            counts[kind]["precise"] += any(s < end and start < e for s, e, _ in gold)
            counts[kind]["predicted_exact"] += (start, end, kind) in gold
    counts["ALL"] = sum(counts.values(), Counter())
    return {kind: _ratios(c) for kind, c in sorted(counts.items())}


def _covered(spans) -> set[int]:
    return {i for start, end, _ in spans for i in range(start, end)}


def _ratios(c: Counter) -> dict:
    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "gold": c["gold"],
        "predicted": c["predicted"],
        "recall": ratio(c["recalled"], c["gold"]),
        "precision": ratio(c["precise"], c["predicted"]),
        "exact_recall": ratio(c["exact"], c["gold"]),
        "exact_precision": ratio(c["predicted_exact"], c["predicted"]),
    }


def predicted_label(moderator: Moderator, text: str, sender: str) -> str:
    """One label per message, most severe first: threat, injection, insult, profanity."""
    verdict = moderator.inbound(sender, text)
    if verdict.abuse == "threat":
        return "threat"
    if any(flag.startswith("injection:") for flag in verdict.flags):
        return "injection"
    return verdict.abuse if verdict.abuse in LABELS else "none"


def confusion(rows: list[dict], moderator: Moderator) -> dict:
    matrix = {gold: dict.fromkeys(LABELS, 0) for gold in LABELS}
    for index, row in enumerate(rows):
        matrix[row["abuse"]][predicted_label(moderator, row["text"], f"eval-{index}")] += 1
    correct = sum(matrix[label][label] for label in LABELS)
    per_label = {}
    for label in LABELS:
        predicted = sum(matrix[gold][label] for gold in LABELS)
        actual = sum(matrix[label].values())
        per_label[label] = {
            "precision": round(matrix[label][label] / predicted, 4) if predicted else None,
            "recall": round(matrix[label][label] / actual, 4) if actual else None,
        }
    legit = sum(matrix[g][p] for g in ("none", "profanity") for p in ("insult", "threat"))
    return {
        "matrix": matrix,
        "accuracy": round(correct / len(rows), 4),
        "per_label": per_label,
        "service_refused_to_legitimate": legit,
    }


def real_messages(sgd_dialogues: int = 4000) -> list[str]:
    """Customer messages from the training splits (none of them is in the evaluation set),
    mostly free of abuse: what moderation flags here is a false alarm rate on real traffic."""
    with open(SHARED / "banking77" / "train.csv", newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    clinc = json.loads((SHARED / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    texts += [text for text, _ in clinc["train"] + clinc["oos_train"] + clinc["val"]]
    with gzip.open(SHARED / "sgd" / "train.jsonl.gz", "rt", encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            if index >= sgd_dialogues:
                break
            turns = json.loads(line)["turns"]
            texts += [t["text"] for t in turns if t["speaker"] == "customer"]
    return texts


def real_traffic(moderator: Moderator, texts: list[str]) -> dict:
    labels, examples = Counter(), defaultdict(list)
    pii = Counter()
    for index, text in enumerate(texts):
        label = predicted_label(moderator, text, f"real-{index}")
        labels[label] += 1
        if label != "none" and len(examples[label]) < 5:
            examples[label].append(text)
        pii.update(span.type for span in moderator.pii.find(text))
    return {"messages": len(texts), "labels": dict(labels), "examples": examples, "pii": pii}


def latency(texts: list[str], moderator: Moderator, rounds: int) -> dict:
    """Per message: inbound checks, the redaction written to the log, the output check on
    one reply. The same work the three moderation stages do in a turn."""
    timings = []
    for round_index in range(rounds):
        for index, text in enumerate(texts):
            start = time.perf_counter()
            moderator.admit(f"lat-{round_index}-{index}")
            verdict = moderator.inbound(f"lat-{round_index}-{index}", text)
            moderator.pii.redact(verdict.text, list(verdict.pii))
            redact_reply(moderator.pii, REPLY, [s.value for s in verdict.pii])
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "messages": len(timings),
        "median_ms": round(statistics.median(timings), 4),
        "p90_ms": round(timings[int(0.9 * len(timings))], 4),
        "p99_ms": round(timings[int(0.99 * len(timings))], 4),
        "max_ms": round(timings[-1], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=EVAL)
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rows = load(args.data)
    started = time.perf_counter()
    combined = Moderator(ModerationConfig(), max_chars=2000)
    load_seconds = time.perf_counter() - started
    results = {
        "machine": machine(),
        "messages": len(rows),
        "labels": dict(Counter(row["abuse"] for row in rows)),
        "moderator_load_seconds": round(load_seconds, 3),
        "spans": span_scores(rows, combined),
        "abuse": {
            mode: confusion(rows, Moderator(abuse=AbuseDetector(mode=mode)))
            for mode in ("words", "classifier", "combined")
        },
        "latency": latency([row["text"] for row in rows], combined, args.rounds),
    }
    if (SHARED / "banking77" / "train.csv").is_file():
        texts = real_messages()
        results["real_traffic"] = real_traffic(combined, texts)
        sample = random.Random(0).sample(texts, 2000)
        results["latency_real_traffic"] = latency(sample, combined, args.rounds)
    results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
