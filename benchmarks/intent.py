"""Intent benchmark (issue 3): supportbot's own training path against two baselines on
BANKING77 and CLINC150. Every choice is made on training or validation data; test is
only scored.

    python benchmarks/intent.py [--datasets banking77 clinc150] [--limit N]
        [--modes default frozen full lora] [--out results/intent-bench]

tfidf_lr: word 1-2 + char_wb 2-5 gram TF-IDF, logistic regression. frozen_lr: the packaged
encoder's vectors, logistic regression. Both pick C on a validation slice carved from
BANKING77's train, or on CLINC's val; on CLINC they reject as out of scope below a
confidence threshold chosen on val + oos_val. supportbot: `train_model` on the dataset
file with default settings (what `supportbot train` does), `evaluate_model` on the test
file, and single-message latency through `BotModel.analyse`, the serving path.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import FeatureUnion

ROOT = Path(__file__).resolve().parents[1]
# Benchmark the checkout this script lives in, not whichever copy happens to be installed.
sys.path.insert(0, str(ROOT))

from benchmarks.encoder_latency import machine_info  # noqa: E402
from retrieval.bot_model import BotModel  # noqa: E402
from retrieval.encoder import CachingEncoder, TextEncoder  # noqa: E402
from retrieval.intent_classifier import OUT_OF_SCOPE  # noqa: E402
from supportbot.errors import ConfigError  # noqa: E402
from training.evaluate import evaluate_model, predict_examples  # noqa: E402
from training.loader import load_labelled_examples  # noqa: E402
from training.train import train_model  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DATASETS = ("banking77", "clinc150")
MODES = ("default", "auto", "frozen", "full", "lora")
C_GRID = (1.0, 10.0, 100.0)
VALIDATION_FRACTION = 0.1
LATENCY_MESSAGES = 200
LATENCY_WARMUP = 10
CLINC_SPLITS = ("train", "val", "test", "oos_train", "oos_val", "oos_test")
# evaluate_model's summary keys for out-of-scope detection (None when the data has none).
SUMMARY_OOS_KEYS = ("in_scope_accuracy", "oos_recall", "oos_precision", "oos_auroc")


@dataclass
class Split:
    texts: list[str]
    labels: list[str]
    """Intent names; out-of-scope items carry OUT_OF_SCOPE."""

    def take(self, indices: list[int]) -> Split:
        return Split([self.texts[i] for i in indices], [self.labels[i] for i in indices])

    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.texts, self.labels, strict=True))

    def __add__(self, other: Split) -> Split:
        return Split(self.texts + other.texts, self.labels + other.labels)


@dataclass
class Dataset:
    name: str
    splits: dict[str, Split]
    train_file: Path
    test_file: Path

    @property
    def has_oos(self) -> bool:
        return "oos_test" in self.splits

    def joined(self, name: str) -> Split:
        """A split with its out-of-scope counterpart (CLINC's test + oos_test)."""
        split = self.splits[name]
        return split + self.splits[f"oos_{name}"] if self.has_oos else split


# --- data -----------------------------------------------------------------------------


def load_dataset(name: str, data_root: Path) -> Dataset:
    if name == "banking77":
        folder = data_root / "banking77"
        splits = {s: _read_banking_csv(folder / f"{s}.csv") for s in ("train", "test")}
        return Dataset(name, splits, folder / "train.csv", folder / "test.csv")
    path = data_root / "clinc150" / "data_full.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    splits = {
        s: Split(
            [text for text, _ in raw[s]],
            [OUT_OF_SCOPE if s.startswith("oos_") else label for _, label in raw[s]],
        )
        for s in CLINC_SPLITS
    }
    return Dataset(name, splits, path, path)


def _read_banking_csv(path: Path) -> Split:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return Split([r["text"] for r in rows], [r["category"] for r in rows])


def stratified_sample(labels: list[str], size: int, rng: np.random.Generator) -> list[int]:
    """Indices of `size` items spread evenly over labels, so a small sample keeps every intent."""
    order = rng.permutation(len(labels))
    seen: Counter[str] = Counter()
    keyed = []
    for position, index in enumerate(order):
        keyed.append((seen[labels[index]], position, int(index)))
        seen[labels[index]] += 1
    return sorted(index for _, _, index in sorted(keyed)[:size])


def limit_dataset(dataset: Dataset, limit: int, seed: int, scratch: Path) -> Dataset:
    """A smoke-run copy: every split cut to `limit` items, written where supportbot reads it."""
    rng = np.random.default_rng(seed)
    splits = {
        name: split.take(stratified_sample(split.labels, limit, rng))
        if len(split.texts) > limit
        else split
        for name, split in dataset.splits.items()
    }
    folder = scratch / f"{dataset.name}-limit{limit}"
    folder.mkdir(parents=True)
    if not dataset.has_oos:
        for name in ("train", "test"):
            _write_banking_csv(splits[name], folder / f"{name}.csv")
        return Dataset(dataset.name, splits, folder / "train.csv", folder / "test.csv")
    path = folder / "data_full.json"
    raw = {
        name: [[text, "oos" if label == OUT_OF_SCOPE else label] for text, label in split.pairs()]
        for name, split in splits.items()
    }
    path.write_text(json.dumps(raw), encoding="utf-8")
    return Dataset(dataset.name, splits, path, path)


def _write_banking_csv(split: Split, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "category"])
        writer.writerows(split.pairs())


# --- scoring --------------------------------------------------------------------------


def score(truth: list[str], predicted, top, confidence) -> dict:
    """`accuracy` is over in-scope items and counts a rejection as wrong; `top_intent_accuracy`
    ignores rejection. Out-of-scope keys exist only when the data has out-of-scope items and
    follow evaluate_model: AUROC scores 1 - confidence of the best in-scope intent, precision
    is 0 when nothing is rejected."""
    truth, predicted, top = np.asarray(truth), np.asarray(predicted), np.asarray(top)
    oos = truth == OUT_OF_SCOPE
    rejected = predicted == OUT_OF_SCOPE
    result = {
        "accuracy": _mean(predicted[~oos] == truth[~oos]),
        "top_intent_accuracy": _mean(top[~oos] == truth[~oos]),
    }
    if oos.any():
        result["oos_recall"] = _mean(rejected[oos])
        result["oos_precision"] = _mean(oos[rejected]) if rejected.any() else 0.0
        result["oos_auroc"] = round(float(roc_auc_score(oos, 1 - np.asarray(confidence))), 4)
    return result


def _mean(values: np.ndarray) -> float:
    return round(float(np.mean(values)), 4)


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, oos: np.ndarray) -> float:
    """The confidence below which to reject, maximising the mean of in-scope accuracy and
    out-of-scope recall on validation data (never test)."""
    candidates = np.unique(np.append(confidence, 0.0))
    accepted = confidence[None, :] >= candidates[:, None]
    in_scope = (accepted[:, ~oos] & correct[None, ~oos]).mean(axis=1)
    recall = (~accepted[:, oos]).mean(axis=1)
    return float(candidates[np.argmax(in_scope + recall)])


# --- baselines ------------------------------------------------------------------------

Featurizer = Callable[[list[str]], object]


def tfidf_features(fit_texts: list[str]) -> Featurizer:
    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ]
    )
    union.fit(fit_texts)
    return union.transform


@dataclass
class Baseline:
    model: LogisticRegression
    featurize: Featurizer
    c: float
    validation_accuracy: dict[str, float]
    seconds: float

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(best intent, its probability) per text."""
        probs = self.model.predict_proba(self.featurize(texts))
        return self.model.classes_[probs.argmax(axis=1)], probs.max(axis=1)


def fit_baseline(
    features: Callable[[list[str]], Featurizer], fit: Split, val: Split, refit: Split | None
) -> Baseline:
    """Pick C by validation accuracy; refit on `refit` when validation was carved from it."""
    started = time.perf_counter()
    featurize = features(fit.texts)
    x_fit, x_val = featurize(fit.texts), featurize(val.texts)
    scores: dict[str, float] = {}
    best_c, model = None, None
    for c in C_GRID:  # one model alive at a time: TF-IDF heads are large
        candidate = _logistic(c, x_fit, fit.labels)
        scores[str(c)] = _mean(candidate.predict(x_val) == np.asarray(val.labels))
        if best_c is None or scores[str(c)] > scores[str(best_c)]:
            best_c, model = c, candidate
    if refit is not None:
        featurize = features(refit.texts)
        model = _logistic(best_c, featurize(refit.texts), refit.labels)
    return Baseline(model, featurize, best_c, scores, round(time.perf_counter() - started, 1))


def _logistic(c: float, x, y: list[str]) -> LogisticRegression:
    """Iterations used are in the JSON; smoke runs have more classes than samples per class."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="The number of unique classes")
        return LogisticRegression(C=c, max_iter=1000).fit(x, y)


def run_baseline(
    name: str, features: Callable[[list[str]], Featurizer], dataset: Dataset, seed: int
) -> dict:
    print(f"  {name}: choosing C in {C_GRID}", flush=True)
    train = dataset.splits["train"]
    if dataset.has_oos:  # in-scope intents only; out of scope is decided by a threshold
        baseline = fit_baseline(features, train, dataset.splits["val"], refit=None)
    else:
        size = round(len(train.texts) * VALIDATION_FRACTION)
        held = set(stratified_sample(train.labels, size, np.random.default_rng(seed)))
        rest = [i for i in range(len(train.texts)) if i not in held]
        baseline = fit_baseline(features, train.take(rest), train.take(sorted(held)), train)
    test = dataset.joined("test")
    top, confidence = baseline.predict(test.texts)
    predicted, threshold = top, None
    if dataset.has_oos:
        threshold = _baseline_threshold(baseline, dataset.joined("val"))
        predicted = np.where(confidence < threshold, OUT_OF_SCOPE, top)
    return {
        "method": name,
        **score(test.labels, predicted, top, confidence),
        "train_seconds": baseline.seconds,
        "trainable_parameters": None,
        "c": baseline.c,
        "validation_accuracy_by_c": baseline.validation_accuracy,
        "oos_threshold": None if threshold is None else round(threshold, 4),
        "lr_iterations": int(baseline.model.n_iter_.max()),
    }


def _baseline_threshold(baseline: Baseline, val: Split) -> float:
    top, confidence = baseline.predict(val.texts)
    truth = np.asarray(val.labels)
    return choose_threshold(confidence, top == truth, truth == OUT_OF_SCOPE)


# --- supportbot -----------------------------------------------------------------------


def run_supportbot(dataset: Dataset, mode: str, scratch: Path, out: Path) -> dict:
    """`supportbot train` on the dataset file (mode "default"), or on a generated project
    that sets training.mode; then `evaluate_model` and the serving latency."""
    method = "supportbot" if mode == "default" else f"supportbot[{mode}]"
    print(f"  {method}: training", flush=True)
    source = dataset.train_file
    if mode != "default":
        source = write_project(dataset.train_file, mode, scratch / f"{dataset.name}-{mode}")
    model_dir = scratch / f"{dataset.name}-{mode}-model"
    started = time.perf_counter()
    try:
        result = train_model(source, model_dir, progress=print_progress)
    except ConfigError as exc:
        print(f"  note: skipped {method}: the config rejects training.mode={mode}: {exc}")
        return {"method": method, "skipped": str(exc)}
    seconds = round(time.perf_counter() - started, 1)
    summary = evaluate_model(
        model_dir, dataset.test_file, out / "eval" / f"{dataset.name}-{method}"
    )
    model = BotModel.load(model_dir)
    fp32 = fp32_metrics(model_dir, dataset, out / "eval" / f"{dataset.name}-{method}-fp32")
    return {
        "method": method,
        **supportbot_metrics(summary, model, dataset),
        "fp32": fp32,
        "train_seconds": seconds,
        "trainable_parameters": result.manifest.metrics.get("trainable_parameters"),
        "mode": result.manifest.classifier.mode,
        "latency_ms": serving_latency(model, dataset),
        "serving_encoder": type(model.encoder).__name__,
        "evaluate_model": summary,
    }


def write_project(data_file: Path, mode: str, folder: Path) -> Path:
    folder.mkdir(parents=True)
    config = {"data": [str(data_file.resolve())], "training": {"mode": mode}}
    (folder / "supportbot.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def print_progress(line: str) -> None:
    """Training progress, indented; data warnings (intents without responses, thin intents
    in smoke runs) are expected for these datasets and left out."""
    if "warning:" not in line:
        print(f"    {line}", flush=True)


def supportbot_metrics(summary: dict, model: BotModel, dataset: Dataset) -> dict:
    """evaluate_model's numbers where it has them; out-of-scope ones computed here otherwise."""
    metrics = {
        "accuracy": summary["accuracy"],
        "top_intent_accuracy": summary["top_intent_accuracy_in_scope"],
        "metrics_source": "evaluate_model",
    }
    if not dataset.has_oos:
        return metrics
    if all(summary.get(key) is not None for key in SUMMARY_OOS_KEYS):
        oos = {key: summary[key] for key in SUMMARY_OOS_KEYS[1:]}
        return {**metrics, **oos, "accuracy": summary["in_scope_accuracy"]}
    examples = load_labelled_examples(dataset.test_file)
    predictions = predict_examples(model, examples)
    own = score(
        [e.intent for e in examples],
        [p["intent"] for p in predictions],
        [p["ranking"][0][0] for p in predictions],
        [p["ranking"][0][1] for p in predictions],
    )
    return {**own, "metrics_source": "this benchmark (evaluate_model has no out-of-scope keys)"}


def fp32_metrics(model_dir: Path, dataset: Dataset, out_dir: Path) -> dict:
    """The same model served by its fp32 PyTorch encoder (SUPPORTBOT_BACKEND=torch), so the
    int8 ONNX encoder's accuracy cost is measured, not assumed."""
    previous = os.environ.get("SUPPORTBOT_BACKEND")
    os.environ["SUPPORTBOT_BACKEND"] = "torch"
    try:
        summary = evaluate_model(model_dir, dataset.test_file, out_dir)
        model = BotModel.load(model_dir)
        return supportbot_metrics(summary, model, dataset)
    finally:
        if previous is None:
            os.environ.pop("SUPPORTBOT_BACKEND")
        else:
            os.environ["SUPPORTBOT_BACKEND"] = previous


def serving_latency(model: BotModel, dataset: Dataset) -> dict:
    """Milliseconds per `analyse([text])`, one message at a time, after a short warm-up."""
    texts = dataset.joined("test").texts
    order = np.random.default_rng(0).permutation(len(texts))[:LATENCY_MESSAGES]
    picked = [texts[i] for i in order]
    for text in picked[:LATENCY_WARMUP]:
        model.analyse([text])
    timings = []
    for text in picked:
        started = time.perf_counter()
        model.analyse([text])
        timings.append((time.perf_counter() - started) * 1000)
    median, p90 = np.percentile(timings, [50, 90])
    return {"messages": len(picked), "median": round(float(median), 2), "p90": round(float(p90), 2)}


# --- report ---------------------------------------------------------------------------

COLUMNS = {
    False: [
        ("accuracy (rejection = wrong)", "accuracy"),
        ("top-intent accuracy (rejection ignored)", "top_intent_accuracy"),
    ],
    True: [
        ("in-scope accuracy (rejection = wrong)", "accuracy"),
        ("OOS recall", "oos_recall"),
        ("OOS precision", "oos_precision"),
        ("OOS AUROC", "oos_auroc"),
        ("top-intent accuracy (rejection ignored)", "top_intent_accuracy"),
    ],
}
TAIL = [
    "fp32 encoder: accuracy",
    "train wall s",
    "encoder params trained",
    "latency median ms",
    "latency p90 ms",
]


def dataset_section(name: str, result: dict) -> list[str]:
    has_oos = "oos_test" in result["sizes"]
    columns = COLUMNS[has_oos]
    lines = [f"## {name}", ""]
    lines.append("| method | " + " | ".join([c for c, _ in columns] + TAIL) + " |")
    lines.append("|---|" + "---:|" * (len(columns) + len(TAIL)))
    for method in result["methods"].values():
        if "skipped" in method:
            continue
        latency = method.get("latency_ms", {})
        cells = [_cell(method.get(key)) for _, key in columns] + [
            _cell(method.get("fp32", {}).get("accuracy")),
            _cell(method["train_seconds"], "{:.1f}"),
            _cell(method["trainable_parameters"], "{:,}"),
            _cell(latency.get("median"), "{:.2f}"),
            _cell(latency.get("p90"), "{:.2f}"),
        ]
        lines.append(f"| {method['method']} | " + " | ".join(cells) + " |")
    return lines + [""] + [f"- {note}" for note in dataset_notes(result)] + [""]


def _cell(value: object, form: str = "{:.4f}") -> str:
    return "-" if value is None else form.format(value)


def dataset_notes(result: dict) -> list[str]:
    sizes = ", ".join(f"{split} {count}" for split, count in result["sizes"].items())
    notes = [f"items: {sizes}"]
    for method in result["methods"].values():
        if "skipped" in method:
            notes.append(f"{method['method']}: skipped ({method['skipped']})")
        elif "c" in method:
            threshold = method["oos_threshold"]
            rejected = "" if threshold is None else f", rejects below p={threshold}"
            notes.append(
                f"{method['method']}: C={method['c']} (validation accuracy by C "
                f"{method['validation_accuracy_by_c']}){rejected}"
            )
        else:
            notes.append(
                f"{method['method']}: encoder mode {method['mode']}, served by "
                f"{method['serving_encoder']}; metrics from {method['metrics_source']}"
            )
    return notes


def header_lines(command: str, load_before: tuple[float, ...], limit: int | None) -> list[str]:
    import sentence_transformers
    import sklearn

    import supportbot

    lines = ["# Intent benchmark", ""]
    if limit:
        lines += [f"**{smoke_banner(limit)}**", ""]
    return lines + [
        f"- command: `{command}`",
        f"- code: {git_revision()}; supportbot {supportbot.__version__}, scikit-learn "
        f"{sklearn.__version__}, sentence-transformers {sentence_transformers.__version__}",
        *machine_info(load_before),
        f"- finished {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        "- train wall s: baselines = featurising train/validation, C search and final fit "
        "(frozen_lr includes encoding); supportbot = the whole `train_model` call",
        "",
    ]


def smoke_banner(limit: int) -> str:
    return f"SMOKE RUN (limit={limit}): not a benchmark figure"


def git_revision() -> str:
    """The commit measured, flagged when the checkout has uncommitted changes."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {head}" + (" + uncommitted changes" if dirty else "")


def _git(*args: str) -> str:
    run = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    run.check_returncode()
    return run.stdout.strip()


# --- main -----------------------------------------------------------------------------


def run_dataset(name: str, args: argparse.Namespace, scratch: Path) -> dict:
    dataset = load_dataset(name, args.data)
    if args.limit:
        dataset = limit_dataset(dataset, args.limit, args.seed, scratch)
    sizes = {split: len(items.texts) for split, items in dataset.splits.items()}
    print(f"== {name}: {sizes}", flush=True)
    encoder = CachingEncoder(TextEncoder())
    methods = [
        run_baseline("tfidf_lr", tfidf_features, dataset, args.seed),
        run_baseline("frozen_lr", lambda _: encoder.encode, dataset, args.seed),
    ]
    methods += [run_supportbot(dataset, mode, scratch, args.out) for mode in args.modes]
    return {
        "sizes": sizes,
        "train_file": str(dataset.train_file),
        "test_file": str(dataset.test_file),
        "methods": {m["method"]: m for m in methods},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--limit", type=int, default=None, help="smoke run: items per split")
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=MODES,
        default=["default"],
        help="supportbot variants; 'default' trains with no mode override",
    )
    parser.add_argument("--out", type=Path, default=Path("results/intent-bench"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 2:
        parser.error("--limit: expected at least 2")
    return args


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/intent.py", *argv])
    load_before = os.getloadavg()
    if args.limit:
        print(f"\n!!! {smoke_banner(args.limit)} !!!\n", flush=True)
    results: dict = {"command": command, "limit": args.limit, "seed": args.seed, "datasets": {}}
    with tempfile.TemporaryDirectory(prefix="intent-bench-") as scratch:
        for name in args.datasets:
            results["datasets"][name] = run_dataset(name, args, Path(scratch))
    lines = header_lines(command, load_before, args.limit)
    results["header"] = lines
    for name, result in results["datasets"].items():
        lines += dataset_section(name, result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "intent.md").write_text("\n".join(lines), encoding="utf-8")
    (args.out / "intent.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print("\n".join(lines))
    print(f"written: {args.out / 'intent.md'}, {args.out / 'intent.json'}")
    return results


if __name__ == "__main__":
    main()
