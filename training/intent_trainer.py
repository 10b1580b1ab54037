"""Trains the intent head over the encoder's features, then calibrates it on held-out data.

Held-out data is the dataset's own validation split when it has one, else a stratified
slice carved out of training data; temperature and the out-of-scope threshold are fitted
there and never on test data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from retrieval.intent_classifier import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    ExampleMemory,
    IntentClassifier,
    in_scope_score,
    last_layers,
    softmax,
)
from retrieval.lexical import LexicalModel
from supportbot.config import TrainingConfig
from training.calibration import (
    choose_support_weight,
    choose_thresholds,
    expected_calibration_error,
    fit_temperature,
)
from training.cross_validation import (
    CROSS_VALIDATE_BELOW,
    FOLDS,
    FoldModel,
    HeldOutScores,
    out_of_fold_scores,
)
from training.head_layers import choose_head, layer_choices, train_head
from training.lexical_trainer import fit_lexical_model
from training.off_topic import OFF_TOPIC_QUESTIONS
from training.schema import Example

Progress = Callable[[str], None]


@dataclass
class ClassifierTrainingResult:
    classifier: IntentClassifier
    metrics: dict = field(default_factory=dict)


def split_holdout(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Stratified split: each label with at least 4 examples gives `fraction` (>= 1) to holdout."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example.intent, []).append(example)
    train, holdout = [], []
    for label in sorted(by_label):
        group = by_label[label]
        order = rng.permutation(len(group))
        take = max(1, round(len(group) * fraction)) if len(group) >= 4 and fraction > 0 else 0
        holdout.extend(group[i] for i in order[:take])
        train.extend(group[i] for i in order[take:])
    return train, holdout


def train_intent_classifier(
    examples: list[Example],
    validation: list[Example],
    encode_layers: Callable[[list[str], int], np.ndarray],
    config: TrainingConfig,
    progress: Progress,
) -> ClassifierTrainingResult:
    """Fit, calibrate on held-out data, and (when holdout was carved from train) refit on all.

    `encode_layers(texts, count)` gives the encoder's last `count` layers, pooled, side by
    side (`TextEncoder.encode_layers`); how many the head reads is chosen on held-out data.
    """
    carved = not validation
    if carved:
        train, holdout = split_holdout(examples, config.holdout_fraction, config.seed)
    else:
        train, holdout = examples, validation
    labels = sorted({e.intent for e in examples} - {OUT_OF_SCOPE})
    if any(e.intent == OUT_OF_SCOPE for e in examples):
        labels.append(OUT_OF_SCOPE)
    label_ids = {label: i for i, label in enumerate(labels)}
    holdout = [e for e in holdout if e.intent in label_ids]

    choices = layer_choices(config, has_holdout=bool(holdout))
    progress(f"encoding {len(train) + len(holdout)} examples with the base encoder")
    train_texts, holdout_texts = [e.text for e in train], [e.text for e in holdout]
    train_features = encode_layers(train_texts, max(choices))
    holdout_features = encode_layers(holdout_texts, max(choices))
    train_targets = np.array([label_ids[e.intent] for e in train])
    holdout_targets = np.array([label_ids[e.intent] for e in holdout], dtype=np.int64)
    lexical, holdout_lexical = _lexical_model(
        train_texts, train_targets, holdout_texts, len(labels), config, progress
    )
    head = choose_head(
        (train_features, train_targets),
        (holdout_features, holdout_targets, holdout_lexical),
        choices,
        len(labels),
        config,
        progress,
    )
    lexical = lexical if head.lexical_share > 0 else None
    train_features = last_layers(train_features, max(choices), head.layers)
    holdout_features = last_layers(holdout_features, max(choices), head.layers)
    provisional = IntentClassifier(
        labels,
        head.weight,
        head.bias,
        ClassifierSettings(
            1.0,
            0.0,
            config.ambiguity_margin,
            lexical_share=head.lexical_share,
            feature_layers=head.layers,
        ),
        memory_of(train_features, train_targets, labels, train_texts, head.layers),
        lexical,
    )
    if carved and holdout and len(examples) < CROSS_VALIDATE_BELOW:
        features = np.concatenate([train_features, holdout_features])
        targets = np.concatenate([train_targets, holdout_targets])
        negatives = None
        if OUT_OF_SCOPE not in labels:
            off_topic = list(OFF_TOPIC_QUESTIONS)
            encoded = encode_layers(off_topic, max(choices))
            negatives = (last_layers(encoded, max(choices), head.layers), off_topic)
        model = FoldModel(labels, head.layers, head.lexical_share, memory_of)
        held, off_topic_scores = out_of_fold_scores(
            features, train_texts + holdout_texts, targets, model, config, progress, negatives
        )
        settings, metrics = calibrate_scores(provisional, held, config, off_topic_scores)
        metrics["calibration"] = f"{FOLDS}-fold cross-validation"
        metrics["off_topic_negatives"] = len(OFF_TOPIC_QUESTIONS) if negatives else 0
    else:
        settings, metrics = calibrate(
            provisional, holdout_features, holdout_texts, holdout_targets, config
        )
        metrics["calibration"] = "held-out slice"
    metrics.update(head.metrics)
    weight, bias = head.weight, head.bias
    memory_features, memory_targets, memory_texts = train_features, train_targets, train_texts
    if carved and holdout:
        progress("refitting the intent head on all examples")
        memory_features = np.concatenate([train_features, holdout_features])
        memory_targets = np.concatenate([train_targets, holdout_targets])
        memory_texts = train_texts + holdout_texts
        weight, bias = train_head(memory_features, memory_targets, len(labels), config, progress)
        if lexical is not None:
            lexical = fit_lexical_model(
                memory_texts, memory_targets, len(labels), config.lexical_regularisation
            )
    metrics.update(
        train_examples=len(train),
        holdout_examples=len(holdout),
        holdout_source=("carved from training data" if carved else "dataset validation split"),
    )
    memory = memory_of(memory_features, memory_targets, labels, memory_texts, head.layers)
    return ClassifierTrainingResult(
        IntentClassifier(labels, weight, bias, settings, memory, lexical), metrics
    )


def _lexical_model(
    texts: list[str],
    targets: np.ndarray,
    holdout_texts: list[str],
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> tuple[LexicalModel | None, np.ndarray | None]:
    """The n-gram model and its held-out logits; (None, None) when it is turned off or
    there is no held-out data to say whether it helps."""
    if not config.lexical_features or not holdout_texts:
        return None, None
    started = time.monotonic()
    lexical = fit_lexical_model(texts, targets, n_labels, config.lexical_regularisation)
    progress(f"  n-gram model fitted ({time.monotonic() - started:.1f}s)")
    return lexical, lexical.logits(holdout_texts)


def memory_of(
    features: np.ndarray, targets: np.ndarray, labels: list[str], texts: list[str], layers: int
) -> ExampleMemory:
    """In-scope examples' sentence vectors only: nearness to an out-of-scope example
    supports no intent."""
    keep = np.array([labels[t] != OUT_OF_SCOPE for t in targets], dtype=bool)
    kept_texts = [text for text, k in zip(texts, keep, strict=True) if k]
    vectors = last_layers(features[keep], layers, 1)
    return ExampleMemory(vectors, targets[keep].astype(np.int32), kept_texts)


def calibrate(
    classifier: IntentClassifier,
    features: np.ndarray,
    texts: list[str],
    targets: np.ndarray,
    config: TrainingConfig,
) -> tuple[ClassifierSettings, dict]:
    """Temperature, confidence and support thresholds from held-out data, and their metrics."""
    if len(targets) == 0:
        n_in_scope = len(classifier.intents)
        threshold = min(0.5, 1.5 / max(n_in_scope, 1))
        layers = classifier.settings.feature_layers
        return ClassifierSettings(
            1.0, threshold, config.ambiguity_margin, feature_layers=layers
        ), {}
    held = HeldOutScores.of(classifier, features, texts, targets)
    return calibrate_scores(classifier, held, config)


def calibrate_scores(
    classifier: IntentClassifier,
    held: HeldOutScores,
    config: TrainingConfig,
    off_topic: HeldOutScores | None = None,
) -> tuple[ClassifierSettings, dict]:
    """Calibration from held-out scores (one slice's, or out-of-fold). `off_topic`, the
    shipped generic questions scored the same way, stands in for out-of-scope examples the
    data lacks when choosing the support weight; the thresholds then keep
    `config.in_scope_keep` of the correctly classified held-out messages."""
    labels = classifier.labels
    n_in_scope = len(classifier.intents)
    share = classifier.settings.lexical_share
    targets, predicted, support = held.targets, held.predicted, held.support
    temperature = fit_temperature(held.logits, targets)
    probs = softmax(held.logits / temperature)
    confidence = probs[np.arange(len(probs)), predicted]
    is_oos = np.array([labels[t] == OUT_OF_SCOPE for t in targets], dtype=bool)
    correct = (predicted == targets) & ~is_oos
    inside = ~is_oos
    class_rejects = np.zeros(len(targets), dtype=bool)
    if OUT_OF_SCOPE in labels:
        class_rejects = probs.argmax(axis=1) == labels.index(OUT_OF_SCOPE)
    weight, aurocs = choose_support_weight(confidence, support, is_oos)
    if off_topic is not None and is_oos.sum() == 0:
        negative_probs = softmax(off_topic.logits / temperature)
        negative_confidence = negative_probs[np.arange(len(negative_probs)), off_topic.predicted]
        weight, aurocs = choose_support_weight(
            np.concatenate([confidence, negative_confidence]),
            np.concatenate([support, off_topic.support]),
            np.concatenate([is_oos, np.ones(len(off_topic.targets), dtype=bool)]),
        )
    threshold, similarity = choose_thresholds(
        in_scope_score(confidence, support, weight),
        support,
        class_rejects,
        correct,
        is_oos,
        confidence_floor=min(0.5, 1.5 / max(n_in_scope, 1)),
        keep=config.in_scope_keep,
        oos_recall_target=config.oos_recall_target,
    )
    settings = ClassifierSettings(
        temperature,
        threshold,
        config.ambiguity_margin,
        similarity,
        lexical_share=share,
        support_weight=weight,
        feature_layers=classifier.settings.feature_layers,
    )
    metrics = {
        "holdout_accuracy": float(correct[inside].mean()) if inside.any() else None,
        "holdout_ece": expected_calibration_error(confidence[inside], correct[inside]),
        "temperature": temperature,
        "oos_threshold": threshold,
        "similarity_threshold": similarity,
        "support_weight": weight,
        "holdout_oos_auroc_by_support_weight": aurocs,
    }
    return settings, metrics
