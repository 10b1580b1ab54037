"""Out-of-fold scores: what calibration sees when the training set is too small to spare a
held-out slice that says anything.

With 10 examples per intent a 10 % holdout is one message per intent, and a threshold
fitted on it drifts far from the configured in-scope keep rate on unseen messages (issue
31: one in four answerable questions rejected on an 8-intent bot of 25 examples each).
Here every example is scored once by a head trained without it (stratified k-fold), so
calibration reads as many held-out scores as there are examples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.intent_classifier import ClassifierSettings, IntentClassifier, softmax
from supportbot.config import TrainingConfig
from training.head_layers import train_head
from training.lexical_trainer import fit_lexical_model

Progress = Callable[[str], None]
CROSS_VALIDATE_BELOW = 3000
"""Training sets with fewer examples calibrate on out-of-fold scores."""
FOLDS = 5


@dataclass
class HeldOutScores:
    """Per held-out message: the classifier's logits, its top in-scope label and the
    nearness to that label's closest training example."""

    logits: np.ndarray
    predicted: np.ndarray
    support: np.ndarray
    targets: np.ndarray

    @staticmethod
    def of(classifier: IntentClassifier, features, texts, targets) -> HeldOutScores:
        logits = classifier.scores(features, texts)
        predicted = classifier.top_in_scope(softmax(logits))
        support = classifier.support(features, predicted)
        return HeldOutScores(logits, predicted, support, np.asarray(targets, dtype=np.int64))

    @staticmethod
    def join(parts: list[HeldOutScores]) -> HeldOutScores:
        return HeldOutScores(
            *(np.concatenate([getattr(p, name) for p in parts]) for name in HELD_OUT_FIELDS)
        )


HELD_OUT_FIELDS = ("logits", "predicted", "support", "targets")


def fold_of(targets: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A stratified fold per example; a label with fewer than 2 examples stays in every
    training part (-1), since a head that never saw it cannot score it fairly."""
    rng = np.random.default_rng(seed)
    assigned = np.full(len(targets), -1, dtype=np.int64)
    offset = 0
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        if len(members) < 2:
            continue
        members = rng.permutation(members)
        assigned[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return assigned


@dataclass(frozen=True)
class FoldModel:
    """What each fold's classifier is built like: the head's layer count and n-gram share
    chosen on the first held-out slice, the memory builder of the final classifier."""

    labels: list[str]
    layers: int
    lexical_share: float
    make_memory: Callable


def out_of_fold_scores(
    features: np.ndarray,
    texts: list[str],
    targets: np.ndarray,
    model: FoldModel,
    config: TrainingConfig,
    progress: Progress,
    negatives: tuple[np.ndarray, list[str]] | None = None,
) -> tuple[HeldOutScores, HeldOutScores | None]:
    """Every example scored by a classifier trained on the other folds; `negatives`
    (features, texts), when given, scored by every fold's classifier."""
    fold = fold_of(targets, FOLDS, config.seed)
    held, negative_parts = [], []
    for k in range(FOLDS):
        started = time.monotonic()
        inside, out = fold != k, fold == k
        if not out.any():
            continue
        classifier = _fold_classifier(features, texts, targets, inside, model, config)
        out_texts = [t for t, o in zip(texts, out, strict=True) if o]
        held.append(HeldOutScores.of(classifier, features[out], out_texts, targets[out]))
        if negatives is not None:
            none = np.zeros(len(negatives[1]), dtype=np.int64)
            negative_parts.append(HeldOutScores.of(classifier, *negatives, none))
        seconds = time.monotonic() - started
        progress(f"  cross-validated calibration: fold {k + 1}/{FOLDS} ({seconds:.1f}s)")
    joined = HeldOutScores.join(negative_parts) if negative_parts else None
    return HeldOutScores.join(held), joined


def _fold_classifier(
    features, texts, targets, inside, model: FoldModel, config
) -> IntentClassifier:
    fold_texts = [t for t, i in zip(texts, inside, strict=True) if i]
    fold_targets = targets[inside]
    n_labels = len(model.labels)
    weight, bias = train_head(features[inside], fold_targets, n_labels, config, _quiet)
    lexical = None
    if model.lexical_share > 0:
        lexical = fit_lexical_model(
            fold_texts, fold_targets, n_labels, config.lexical_regularisation
        )
    settings = ClassifierSettings(
        1.0,
        0.0,
        config.ambiguity_margin,
        lexical_share=model.lexical_share,
        feature_layers=model.layers,
    )
    memory = model.make_memory(
        features[inside], fold_targets, model.labels, fold_texts, model.layers
    )
    return IntentClassifier(model.labels, weight, bias, settings, memory, lexical)


def _quiet(_line: str) -> None:
    """Per-fold head training would print five times the progress of one fit."""
