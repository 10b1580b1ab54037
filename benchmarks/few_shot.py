"""Few-shot benchmark (issue 31): small training sets through the `supportbot train` code
path with default settings, against two baselines trained on the same sample in the same
run. Test data is only scored; every threshold comes from the training sample.

    python benchmarks/few_shot.py [--rows banking77-10 banking77-30 banking77-8x25 clinc150-10]
        [--seeds 0 1 2] [--recipes default old frozen_lr] [--out results/few-shot]

Rows: BANKING77 with 10 or 30 examples per intent; an 8-intent bot of 25 examples each
(the intents drawn with the seed, scored on those intents' test messages); CLINC150 with
10 per intent from `train` (no `val`, no `oos_*` in training), scored on `test` +
`oos_test`. Recipes: `default` is `train_model` as a user gets it; `old` is the same with
the calibration before issue 31 (one carved held-out slice, no off-topic negatives);
`frozen_lr` is the packaged encoder's vectors and a logistic regression (C=10), rejecting
below a confidence threshold that keeps 97 % of its correct 5-fold out-of-fold answers.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.intent import Split, load_dataset  # noqa: E402
from retrieval.bot_model import BotModel  # noqa: E402
from retrieval.encoder import TextEncoder  # noqa: E402
from retrieval.intent_classifier import OUT_OF_SCOPE  # noqa: E402
from training import intent_trainer  # noqa: E402
from training.train import train_model  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
ROWS = ("banking77-10", "banking77-30", "banking77-8x25", "clinc150-10")
RECIPES = ("default", "old", "frozen_lr")
KEEP = 0.97


def sample_row(row: str, seed: int, data_root: Path) -> tuple[Split, Split]:
    """(training sample, test split) of a row for one seed."""
    name, shape = row.split("-")
    dataset = load_dataset(name, data_root)
    train, test = dataset.splits["train"], dataset.joined("test")
    rng = np.random.default_rng(seed)
    intents = sorted(set(train.labels))
    per_intent = int(shape.split("x")[-1])
    if "x" in shape:
        intents = sorted(rng.choice(intents, int(shape.split("x")[0]), replace=False).tolist())
        test = test.take([i for i, label in enumerate(test.labels) if label in intents])
    chosen = []
    for intent in intents:
        members = [i for i, label in enumerate(train.labels) if label == intent]
        chosen += rng.choice(members, per_intent, replace=False).tolist()
    return train.take(sorted(chosen)), test


def write_csv(split: Split, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "intent"])
        writer.writerows(split.pairs())
    return path


@contextmanager
def old_calibration() -> Iterator[None]:
    """The held-out-slice calibration of before issue 31, for the `old` recipe."""
    before = intent_trainer.CROSS_VALIDATE_BELOW
    intent_trainer.CROSS_VALIDATE_BELOW = 0
    try:
        yield
    finally:
        intent_trainer.CROSS_VALIDATE_BELOW = before


def run_supportbot(train: Split, test: Split, recipe: str, scratch: Path) -> dict:
    data = write_csv(train, scratch / "train.csv")
    started = time.monotonic()
    if recipe == "old":
        with old_calibration():
            train_model(data, scratch / "model", progress=lambda _line: None)
    else:
        train_model(data, scratch / "model", progress=lambda _line: None)
    seconds = time.monotonic() - started
    model = BotModel.load(scratch / "model")
    predictions = []
    for start in range(0, len(test.texts), 64):
        predictions += model.classify(test.texts[start : start + 64])
    top = np.array([p.top_intent for p in predictions])
    answered = np.array([OUT_OF_SCOPE if p.out_of_scope else p.intent for p in predictions])
    return {**score(test, top, answered), "train_seconds": round(seconds, 1)}


def run_frozen_lr(train: Split, test: Split) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    started = time.monotonic()
    encoder = TextEncoder()
    x = encoder.encode(train.texts)
    y = np.array(train.labels)
    regression = LogisticRegression(C=10.0, max_iter=2000)
    folds = min(5, int(min(np.unique(y, return_counts=True)[1])))
    oof = cross_val_predict(regression, x, y, cv=folds, method="predict_proba")
    classes = np.unique(y)
    correct = classes[oof.argmax(1)] == y
    threshold = float(np.quantile(oof.max(1)[correct], 1 - KEEP))
    regression.fit(x, y)
    seconds = time.monotonic() - started
    probs = regression.predict_proba(encoder.encode(test.texts))
    top = regression.classes_[probs.argmax(1)]
    answered = np.where(probs.max(1) < threshold, OUT_OF_SCOPE, top)
    return {**score(test, top, answered), "train_seconds": round(seconds, 1)}


def score(test: Split, top: np.ndarray, answered: np.ndarray) -> dict:
    truth = np.array(test.labels)
    inside = truth != OUT_OF_SCOPE
    rejected = answered == OUT_OF_SCOPE
    result = {
        "right_first": float((top[inside] == truth[inside]).mean()),
        "answered_right": float((answered[inside] == truth[inside]).mean()),
        "in_scope_rejected": float(rejected[inside].mean()),
    }
    if (~inside).any():
        result["oos_recall"] = float(rejected[~inside].mean())
        result["oos_precision"] = float((~inside[rejected]).mean()) if rejected.any() else 0.0
    return result


def mean_rows(runs: list[dict]) -> dict:
    keys = runs[0].keys()
    return {k: round(float(np.mean([r[k] for r in runs])), 4) for k in keys}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("results/few-shot"))
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}", flush=True)
    results: dict = {}
    for row in args.rows:
        for recipe in args.recipes:
            runs = []
            for seed in args.seeds:
                train, test = sample_row(row, seed, args.data)
                with tempfile.TemporaryDirectory() as scratch:
                    if recipe == "frozen_lr":
                        run = run_frozen_lr(train, test)
                    else:
                        run = run_supportbot(train, test, recipe, Path(scratch))
                print(f"{row} {recipe} seed {seed}: {run}", flush=True)
                runs.append(run)
            results.setdefault(row, {})[recipe] = mean_rows(runs)
            print(f"{row} {recipe} mean of {len(runs)}: {results[row][recipe]}", flush=True)
    results["load_average_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "few_shot.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
