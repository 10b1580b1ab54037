"""`supportbot retrain`: reviewed labels into the training data, a candidate model, and a
promotion only when the candidate is not worse than the current model on the same frozen
test set (`learning.test_file`, `learning.metric`, `learning.tolerance`).

The labels are written as a data file of the project (`learning.labels_file`), regenerated
from the log on every run, so training sees them like any other data and a person can read
what went in. Every candidate is kept as a registry version with its scores, promoted or
not; a running server follows the registry's current pointer (bot/model_swap.py).
"""

from __future__ import annotations

import csv
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml
from sklearn.metrics import f1_score

from bot.store.learning_log import LearningLog
from retrieval.bot_model import BotModel
from retrieval.model_dir import sha256_file
from retrieval.model_registry import ModelRegistry
from supportbot.config import CONFIG_FILENAME, BotConfig, LearningConfig, load_config
from supportbot.errors import ConfigError
from training.evaluate import Outcomes, predict_examples
from training.loader import load_labelled_examples, load_project
from training.validate import example_key

Progress = Callable[[str], None]
Train = Callable[..., object]
CANDIDATES_DIR = ".candidates"


@dataclass(frozen=True)
class RetrainResult:
    candidate: str
    current: str | None
    """The version served before this run (None for a first version)."""
    metric: str
    candidate_score: float
    current_score: float | None
    promoted: bool
    labels: int
    dropped_labels: int
    """Labels left out because their text is already in the data under another intent."""

    def to_json(self) -> dict:
        return asdict(self)


def retrain(
    project: Path,
    models_root: Path,
    log: LearningLog,
    progress: Progress = print,
    train: Train | None = None,
) -> RetrainResult:
    """Merge labels, train a candidate, score both models, promote if not worse."""
    from training.train import train_model

    project = Path(project)
    config = load_config(project / CONFIG_FILENAME)
    test_file = _test_file(project, config)
    labels = log.trainable_labels()
    written, dropped = write_label_data(project, config, labels)
    progress(f"{written} reviewed label(s) in {config.learning.labels_file} ({dropped} dropped)")
    registry = ModelRegistry(models_root)
    candidate_dir = Path(models_root) / CANDIDATES_DIR / f"run-{time.time_ns()}"
    try:
        (train or train_model)(_training_path(project, config), candidate_dir, progress=progress)
        version = registry.add(candidate_dir)
    finally:
        shutil.rmtree(candidate_dir, ignore_errors=True)
    current = registry.current_version()
    promoted, score, current_score = promote_if_not_worse(
        registry, version, test_file, config.learning, progress
    )
    return RetrainResult(
        version, current, config.learning.metric, score, current_score, promoted, written, dropped
    )


def promote_if_not_worse(
    registry: ModelRegistry,
    version: str,
    test_file: Path,
    learning: LearningConfig,
    progress: Progress = print,
) -> tuple[bool, float, float | None]:
    """Score `version` and the current model on the same test file; promote `version` when
    its metric is at least the current one's minus the tolerance (or nothing is current).
    Returns (promoted, candidate score, current score)."""
    candidate = evaluate_version(registry, version, test_file)[learning.metric]
    current = registry.current_version()
    current_score = None
    if current is not None and current != version:
        current_score = evaluate_version(registry, current, test_file)[learning.metric]
    promoted = current_score is None or candidate >= current_score - learning.tolerance
    if promoted and current != version:
        registry.promote(version, reason="retrain")
    verdict = "promoted" if promoted else "kept, not promoted"
    against = "nothing current" if current_score is None else f"{current_score:.4f} ({current})"
    progress(f"{version}: {learning.metric} {candidate:.4f} against {against}: {verdict}")
    return promoted, candidate, current_score


def _test_file(project: Path, config: BotConfig) -> Path:
    if not config.learning.test_file:
        raise ConfigError(
            f"{project / CONFIG_FILENAME}: learning.test_file: required by retrain (a frozen "
            "labelled test set the candidate and the current model are both scored on)"
        )
    where = f"{project / CONFIG_FILENAME}: learning.test_file"
    path = project / config.learning.test_file
    if not path.is_file():
        raise ConfigError(f"{where}: {path} not found")
    for source in config.sources(project):
        if _covers(Path(source.path).resolve(), path.resolve()):
            raise ConfigError(
                f"{where}: {path} is inside the training data ({source.path}); keep the frozen "
                "test set out of `data:`"
            )
    return path


def write_label_data(project: Path, config: BotConfig, labels: list[dict]) -> tuple[int, int]:
    """The labels as `text,label` CSV (and edited replies as a bot definition next to it);
    a label whose text the other data has under another intent is dropped, the latest label
    for a text wins. Returns (written, dropped)."""
    target = project / config.learning.labels_file
    replies_file = target.with_name(target.stem + "-replies.yml")
    target.unlink(missing_ok=True)
    replies_file.unlink(missing_ok=True)
    existing = {example_key(e.text): e.intent for e in load_project(project).data.examples}
    latest: dict[str, dict] = {}
    for label in labels:
        latest[example_key(label["text"])] = label
    kept = [
        label
        for key, label in latest.items()
        if existing.get(key, label["intent"]) == label["intent"]
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows([label["text"], label["intent"]] for label in kept)
    replies: dict[str, list[str]] = {}
    for label in kept:
        if label["reply"] and label["reply"] not in replies.setdefault(label["intent"], []):
            replies[label["intent"]].append(label["reply"])
    if any(replies.values()):
        _write_replies(replies_file, replies)
    return len(kept), len(labels) - len(kept)


def _write_replies(path: Path, replies: dict[str, list[str]]) -> None:
    """Edited replies as a bot definition: each intent's examples stay in the CSV."""
    intents = {intent: {"responses": texts} for intent, texts in replies.items() if texts}
    header = "# Written by supportbot retrain from reviewed replies; regenerated on each run.\n"
    document = yaml.safe_dump({"version": 1, "intents": intents}, allow_unicode=True)
    path.write_text(header + document, encoding="utf-8")


def _training_path(project: Path, config: BotConfig) -> Path:
    """The project itself when its data sources already cover the labels file; otherwise a
    derived project whose config adds it (the original config is never edited)."""
    target = (project / config.learning.labels_file).resolve()
    sources = config.sources(project)
    if any(_covers(Path(source.path).resolve(), target) for source in sources):
        return project
    derived = project / ".supportbot-retrain"
    derived.mkdir(exist_ok=True)
    raw = config.model_dump(mode="json", exclude_none=True)
    raw["data"] = [source.model_dump(mode="json", exclude_none=True) for source in sources]
    raw["data"].append(str(target))
    replies = target.with_name(target.stem + "-replies.yml")
    if replies.is_file():
        raw["data"].append(str(replies))
    (derived / CONFIG_FILENAME).write_text(yaml.safe_dump(raw), encoding="utf-8")
    return derived


def _covers(source: Path, target: Path) -> bool:
    return source == target or (source.is_dir() and source in target.parents)


def evaluate_version(registry: ModelRegistry, version: str, test_file: Path) -> dict:
    """The version's scores on the test file, computed once per test-file content."""
    digest = sha256_file(test_file)
    stored = registry.evaluation(version)
    if stored and stored.get("test_sha256") == digest:
        return stored
    scores = score_model(BotModel.load(registry.version_dir(version)), test_file)
    registry.record_evaluation(
        version, {**scores, "test_file": str(test_file), "test_sha256": digest}
    )
    return registry.evaluation(version) or scores


def score_model(model: BotModel, test_file: Path) -> dict:
    """accuracy (an out-of-scope rejection of an in-scope message is wrong), top-intent
    accuracy (rejections ignored) and macro F1, on a labelled file."""
    examples = load_labelled_examples(test_file)
    outcomes = Outcomes.from_predictions(examples, predict_examples(model, examples))
    macro = f1_score(
        list(outcomes.truth), list(outcomes.predicted), average="macro", zero_division=0
    )
    return {
        "examples": len(examples),
        "accuracy": round(float(np.mean(outcomes.correct)), 4),
        "top_intent_accuracy": round(float(np.mean(outcomes.top_correct)), 4),
        "macro_f1": round(float(macro), 4),
        "evaluated_at": round(time.time(), 3),
    }
