"""`supportbot data validate`'s check for intents with too few examples to be told apart:
each intent's examples are classified by a model trained without them (5-fold
cross-validation over the packaged encoder's vectors and a logistic regression, the
frozen baseline of benchmarks/few_shot.py), and a thin intent whose examples often land
elsewhere is named with the intents they landed in.

Why cross-validation and not a similarity rule: two intents can be close in vector space
and still be separable by a head (BANKING77's card_arrival and card_delivery_estimate),
and cross-validation asks exactly what training will face: an unseen message."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from training.cross_validation import FOLDS, fold_of
from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Example

THIN_BELOW = 25
"""Intents with fewer examples are checked: above, more examples are rarely the fix."""
MIN_RECALL = 0.8
"""A thin intent whose examples are recognised less often than this is reported."""
LISTED = 3


def cross_validated_predictions(
    examples: list[Example], encode: Callable[[list[str]], np.ndarray], seed: int
) -> np.ndarray:
    """Per example, the intent a model trained on the other folds gives it."""
    from sklearn.linear_model import LogisticRegression

    vectors = encode([e.text for e in examples])
    labels = np.array([e.intent for e in examples])
    names, targets = np.unique(labels, return_inverse=True)
    fold = fold_of(targets, FOLDS, seed)
    predicted = labels.copy()
    for k in range(FOLDS):
        out = fold == k
        inside = ~out
        if not out.any() or len(np.unique(targets[inside])) < 2:
            continue
        regression = LogisticRegression(C=10.0, max_iter=2000)
        regression.fit(vectors[inside], targets[inside])
        predicted[out] = names[regression.predict(vectors[out])]
    return predicted


def check_confusable_intents(
    examples: list[Example],
    encode: Callable[[list[str]], np.ndarray],
    problems: ProblemLog,
    seed: int = 42,
) -> None:
    """A warning per thin intent that cross-validation often confuses, naming with what."""
    in_scope = [e for e in examples if e.intent != OUT_OF_SCOPE]
    counts = Counter(e.intent for e in in_scope)
    if len(counts) < 2 or not any(n < THIN_BELOW for n in counts.values()):
        return
    predicted = cross_validated_predictions(in_scope, encode, seed)
    for intent in sorted(counts):
        if counts[intent] >= THIN_BELOW or counts[intent] < 2:
            continue
        landed = Counter(p for e, p in zip(in_scope, predicted, strict=True) if e.intent == intent)
        recall = landed[intent] / counts[intent]
        if recall >= MIN_RECALL:
            continue
        others = [(name, n) for name, n in landed.most_common() if name != intent][:LISTED]
        named = ", ".join(f'"{name}" ({n} of {counts[intent]})' for name, n in others)
        first = next(e for e in in_scope if e.intent == intent)
        problems.warning(
            f'intent "{intent}" has only {counts[intent]} examples and is likely to be '
            f"confused: on cross-validation {recall:.0%} of them were recognised, the rest "
            f"taken for {named}; add examples that tell them apart",
            first.source,
        )
