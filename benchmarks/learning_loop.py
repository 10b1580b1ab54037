"""Learning-loop benchmark (issue 9): does labelling what `supportbot review` picks beat
labelling random turns, for the same number of labels, on BANKING77?

A seed model is trained on a stratified 10% of `train`. The rest of `train` is sent through
the real server (`python -m supportbot.cli serve` on loopback, following a model registry) as live
traffic, one customer per message, so the SQLite log holds real served turns (redacted
text, intent, confidence, action). Then, each round, for two arms in the same run:

- review: `pick_for_review` picks K turns with the arm's current model;
- random: K turns drawn uniformly from the same eligible, unlabelled turns;

the turns' true BANKING77 labels stand in for a reviewer's (looked up by conversation id),
are stored as review labels, and `retrain` trains a candidate, scores it and the current
model on BANKING77 `test` and promotes it when it is not worse. `test` is only scored,
never picked from or trained on. The running server follows the review arm's promotions
(hot swap); the time from promotion to the server answering with the new model is recorded.

    python benchmarks/learning_loop.py [--rounds 8] [--budget-per-round 250] [--seed 0]
        [--limit-train N] [--limit-test N] [--out results/learning-loop]
        [--plot docs/learning_loop.png]

Writes OUT/learning_loop.json (every round of both arms, timings, machine) and the plot of
test accuracy against labels used. The claim checked: review picking reaches the target
accuracy with at most 30% of `train` labelled, and beats random picking at every budget.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store.learning_log import LearningLog  # noqa: E402
from bot.store.review_labels import Label  # noqa: E402
from retrieval.bot_model import BotModel  # noqa: E402
from retrieval.model_registry import ModelRegistry  # noqa: E402
from supportbot.config import LearningConfig  # noqa: E402
from supportbot.testing import free_port  # noqa: E402
from training.retrain import evaluate_version, retrain  # noqa: E402
from training.review import load_candidates, pick_for_review  # noqa: E402
from training.train import train_model  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "banking77"
SENDER_PREFIX = "b77-"
TRAFFIC_CONCURRENCY = 16
METRICS = ("top_intent_accuracy", "accuracy", "macro_f1")
ARMS = ("review", "random")
PROJECT_CONFIG = """name: {name}
data:
  - data
training:
  seed: {seed}
learning:
  test_file: frozen/test.csv
  metric: {metric}
  tolerance: 0.005
"""


@dataclass
class Arm:
    """One way of choosing labels: its project, registry, log copy and history."""

    name: str
    project: Path
    registry: ModelRegistry
    db_path: Path
    labels: int = 0
    rounds: list[dict] = field(default_factory=list)
    vectors: dict = field(default_factory=dict)
    """Text -> vector for the frozen base encoder, shared by every version of the arm."""


def read_split(path: Path, limit: int | None, seed: int) -> list[tuple[str, str]]:
    with open(path, encoding="utf-8", newline="") as stream:
        rows = [(row["text"], row["category"]) for row in csv.DictReader(stream)]
    if limit and limit < len(rows):
        rows = random.Random(seed).sample(rows, limit)
    return rows


def seed_split(rows, fraction: float, seed: int):
    """A stratified seed set (every intent present) and the rest as live traffic."""
    from sklearn.model_selection import train_test_split

    labels = [label for _, label in rows]
    seed_rows, rest = train_test_split(
        rows, train_size=fraction, stratify=labels, random_state=seed
    )
    return seed_rows, rest


def write_csv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def make_project(folder: Path, name: str, seed_rows, test_rows, args) -> Path:
    """Seed examples, one canned response per intent (so served turns are answered, asked
    to clarify or fall back as in production), and the frozen test set outside `data:`."""
    import yaml

    write_csv(folder / "data" / "seed.csv", seed_rows)
    intents = sorted({label for _, label in seed_rows})
    responses = {i: {"responses": [f"About {i.replace('_', ' ')}: ..."]} for i in intents}
    (folder / "data" / "responses.yml").write_text(
        yaml.safe_dump({"version": 1, "intents": responses}), encoding="utf-8"
    )
    write_csv(folder / "frozen" / "test.csv", test_rows)
    config = PROJECT_CONFIG.format(name=name, seed=args.seed, metric=args.metric)
    (folder / "supportbot.yml").write_text(config, encoding="utf-8")
    return folder


class Server:
    """`supportbot serve` in a child process on loopback, following a registry root."""

    def __init__(self, models_root: Path, db_path: Path, log_path: Path):
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        command = [
            sys.executable, "-m", "supportbot.cli", "serve", "--model", str(models_root),
            "--host", "127.0.0.1", "--port", port, "--db", str(db_path),
        ]  # fmt: skip
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def wait_for(self, session, model: str | None, timeout: float = 300.0) -> float:
        """Seconds until /version answers (with `model`, when given)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see its log")
            try:
                async with session.get(f"{self.url}/version") as response:
                    if response.status == 200:
                        served = (await response.json())["model"]
                        if model is None or served == model:
                            return time.monotonic() - started
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"server did not serve {model or 'anything'} within {timeout}s")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=60)
        finally:
            self.log.close()


async def send_traffic(url: str, rows) -> dict:
    """Every message once, as its own customer; returns counts of answers and failures."""
    import aiohttp

    counter = iter(range(len(rows)))
    outcome = {"sent": len(rows), "ok": 0, "failed": 0}

    async def customer(session) -> None:
        for index in counter:
            body = {"sender": f"{SENDER_PREFIX}{index}", "message": rows[index][0]}
            try:
                async with session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
                    await response.read()
                    outcome["ok" if response.status == 200 else "failed"] += 1
            except OSError:
                outcome["failed"] += 1

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(customer(session) for _ in range(TRAFFIC_CONCURRENCY)))
    outcome["seconds"] = round(time.perf_counter() - started, 1)
    return outcome


def served_actions(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        return dict(db.execute("SELECT action, count(*) FROM turns GROUP BY action").fetchall())


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite file (the backup API, not a file copy)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def truth_of(conversation_id: str, traffic) -> str:
    return traffic[int(conversation_id.removeprefix(SENDER_PREFIX))][1]


def choose(arm: Arm, size: int, args, round_number: int) -> list:
    """This round's turns for the arm (the review's picks, or uniform random ones)."""
    log = LearningLog.open(arm.db_path)
    try:
        if arm.name == "review":
            model = BotModel.load(arm.registry.current_dir())
            return pick_for_review(
                log, model, size, LearningConfig(), args.seed + round_number, arm.vectors
            )
        eligible = load_candidates(log, LearningConfig())
        rng = random.Random(args.seed * 1000 + round_number)
        return rng.sample(eligible, min(size, len(eligible)))
    finally:
        log.close()


def label_and_retrain(arm: Arm, picks, traffic, round_number: int) -> dict:
    log = LearningLog.open(arm.db_path)
    try:
        labels = [
            Label(p.turn_id, truth_of(p.conversation_id, traffic), source="benchmark")
            for p in picks
        ]
        log.save_labels(labels)
        arm.labels += len(labels)
        started = time.perf_counter()
        result = retrain(arm.project, arm.registry.root, log, progress=lambda line: None)
    finally:
        log.close()
    return {
        "round": round_number,
        "picked": len(picks),
        "reasons": _reason_counts(picks),
        "retrain_seconds": round(time.perf_counter() - started, 1),
        **result.to_json(),
    }


def _reason_counts(picks) -> dict:
    counts: dict[str, int] = {}
    for pick in picks:
        for reason in pick.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def score_current(arm: Arm, seed_labels: int, train_size: int, test_file: Path) -> dict:
    version = arm.registry.current_version()
    scores = evaluate_version(arm.registry, version, test_file)
    labels = seed_labels + arm.labels
    return {
        "version": version,
        "labels": labels,
        "label_share": round(labels / train_size, 4),
        **{metric: scores[metric] for metric in METRICS},
    }


async def run(args) -> dict:
    train_rows = read_split(args.data / "train.csv", args.limit_train, args.seed)
    test_rows = read_split(args.data / "test.csv", args.limit_test, args.seed)
    seed_rows, traffic = seed_split(train_rows, args.seed_fraction, args.seed)
    work = args.out / "work"
    shutil.rmtree(work, ignore_errors=True)
    arms = {
        name: Arm(
            name,
            make_project(work / name, f"b77-{name}", seed_rows, test_rows, args),
            ModelRegistry(work / f"{name}-models"),
            work / f"{name}.db",
        )
        for name in ARMS
    }
    started = time.perf_counter()
    seed_dir = work / "seed-model"
    train_model(arms["review"].project, seed_dir, progress=lambda line: None)
    seed_seconds = round(time.perf_counter() - started, 1)
    for arm in arms.values():
        staged = arm.registry.root / ".seed"
        shutil.copytree(seed_dir, staged)
        arm.registry.promote(arm.registry.add(staged), reason="seed")
    shutil.rmtree(seed_dir)
    results = await _served_rounds(args, arms, seed_rows, train_rows, traffic)
    return {**results, "test_size": len(test_rows), "seed_train_seconds": seed_seconds}


async def _served_rounds(args, arms, seed_rows, train_rows, traffic) -> dict:
    import aiohttp

    review = arms["review"]
    server = Server(review.registry.root, review.db_path, args.out / "server.log")
    swaps = []
    try:
        async with aiohttp.ClientSession() as session:
            await server.wait_for(session, None)
            sent = await send_traffic(server.url, traffic)
            sent["actions"] = served_actions(review.db_path)
            copy_database(review.db_path, arms["random"].db_path)
            test_file = review.project / "frozen" / "test.csv"
            for arm in arms.values():
                arm.rounds.append(
                    {"round": 0, **score_current(arm, len(seed_rows), len(train_rows), test_file)}
                )
            for number in range(1, args.rounds + 1):
                for arm in arms.values():
                    picks = choose(arm, args.budget_per_round, args, number)
                    outcome = label_and_retrain(arm, picks, traffic, number)
                    score = score_current(arm, len(seed_rows), len(train_rows), test_file)
                    arm.rounds.append({**outcome, **score})
                    if arm is review and outcome["promoted"]:
                        served = await server.wait_for(session, _manifest_version(arm))
                        swaps.append(round(served, 1))
                    print(_progress_line(arm, number), flush=True)
    finally:
        exit_code = server.stop()
    return {
        "seed_labels": len(seed_rows),
        "train_size": len(train_rows),
        "traffic": sent,
        "server_exit_code": exit_code,
        "swap_seconds": swaps,
        "arms": {name: arm.rounds for name, arm in arms.items()},
    }


def _manifest_version(arm: Arm) -> str:
    """The served model's name for /version (the manifest's, not the registry folder's)."""
    from retrieval.model_dir import read_manifest

    return read_manifest(arm.registry.current_dir(), verify=False).version


def _progress_line(arm: Arm, number: int) -> str:
    last = arm.rounds[-1]
    return (
        f"round {number} {arm.name:>6}: {last['labels']} labels ({last['label_share']:.1%}), "
        f"top-intent {last['top_intent_accuracy']:.4f}, accuracy {last['accuracy']:.4f}, "
        f"{'promoted' if last['promoted'] else 'not promoted'}, {last['retrain_seconds']}s"
    )


def verdict(results: dict, metric: str, target: float, max_share: float) -> dict:
    review, rand = results["arms"]["review"], results["arms"]["random"]
    reached = [r for r in review if r[metric] >= target]
    first = reached[0] if reached else None
    paired = list(zip(review[1:], rand[1:], strict=True))
    return {
        "metric": metric,
        "target": target,
        "max_label_share": max_share,
        "review_reaches_target_at_share": first["label_share"] if first else None,
        "review_reaches_target_within_share": bool(first and first["label_share"] <= max_share),
        "review_beats_random_every_budget": all(a[metric] > b[metric] for a, b in paired),
        "review_minus_random": [round(a[metric] - b[metric], 4) for a, b in paired],
    }


def plot(results: dict, metric: str, target: float, max_share: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, style in (("review", "o-"), ("random", "s--")):
        rounds = results["arms"][name]
        ax.plot(
            [100 * r["label_share"] for r in rounds],
            [100 * r[metric] for r in rounds],
            style,
            label=f"{name}-picked labels",
        )
    ax.axhline(100 * target, color="grey", linewidth=0.8, linestyle=":")
    ax.axvline(100 * max_share, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel(f"labels used, % of BANKING77 train ({results['train_size']} messages)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} on BANKING77 test, %")
    ax.set_title("Learning loop: review-picked vs random labels, same budget")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BANKING77 folder")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--budget-per-round", type=int, default=250, metavar="K")
    parser.add_argument("--seed-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--metric", choices=METRICS, default="top_intent_accuracy")
    parser.add_argument("--target", type=float, default=0.92)
    parser.add_argument("--max-share", type=float, default=0.30)
    parser.add_argument("--limit-train", type=int, help="subsample train (smoke runs)")
    parser.add_argument("--limit-test", type=int, help="subsample test (smoke runs)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "learning-loop")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "learning_loop.png")
    parser.add_argument("--keep-work", action="store_true", help="keep models and logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    results["config"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    results["verdict"] = verdict(results, args.metric, args.target, args.max_share)
    plot(results, args.metric, args.target, args.max_share, args.plot)
    (args.out / "learning_loop.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.keep_work:
        shutil.rmtree(args.out / "work", ignore_errors=True)
    print(json.dumps(results["verdict"], indent=2))
    print(f"results: {args.out / 'learning_loop.json'}; plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
