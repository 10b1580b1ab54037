"""Trains the intent head over frozen sentence vectors, then calibrates it on held-out data.

Held-out data is the dataset's own validation split when it has one, else a stratified
slice carved out of training data; temperature and the out-of-scope threshold are fitted
there and never on test data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from bot.config import TrainingConfig
from retrieval.intent_classifier import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    ExampleMemory,
    IntentClassifier,
    in_scope_score,
    softmax,
)
from retrieval.lexical import LexicalModel
from training.calibration import (
    choose_support_weight,
    choose_thresholds,
    expected_calibration_error,
    fit_temperature,
)
from training.lexical_trainer import choose_share, fit_lexical_model
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


def train_head(
    vectors: np.ndarray,
    targets: np.ndarray,
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression with AdamW on mini-batches; returns (weight, bias) as numpy arrays."""
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    head = torch.nn.Linear(vectors.shape[1], n_labels)
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=1e-4)
    x = torch.from_numpy(vectors)
    y = torch.from_numpy(targets.astype(np.int64))
    steps_per_epoch = max(1, -(-len(x) // config.batch_size))
    total_steps = steps_per_epoch * config.epochs
    started = time.monotonic()
    for epoch in range(config.epochs):
        order = torch.randperm(len(x), generator=generator)
        epoch_loss = 0.0
        for batch in order.split(config.batch_size):
            loss = torch.nn.functional.cross_entropy(head(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(batch)
        if epoch == config.epochs - 1 or (epoch + 1) % max(1, config.epochs // 5) == 0:
            done = (epoch + 1) * steps_per_epoch
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total_steps - done)
            progress(
                f"  intent head: step {done}/{total_steps}, loss {epoch_loss / len(x):.4f}, "
                f"elapsed {elapsed:.1f}s, eta {eta:.1f}s"
            )
    return head.weight.detach().numpy().copy(), head.bias.detach().numpy().copy()


def train_intent_classifier(
    examples: list[Example],
    validation: list[Example],
    encode: Callable[[list[str]], np.ndarray],
    config: TrainingConfig,
    progress: Progress,
) -> ClassifierTrainingResult:
    """Fit, calibrate on held-out data, and (when holdout was carved from train) refit on all."""
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

    progress(f"encoding {len(train) + len(holdout)} examples with the base encoder")
    train_vectors = encode([e.text for e in train])
    holdout_vectors = encode([e.text for e in holdout])
    train_targets = np.array([label_ids[e.intent] for e in train])
    holdout_targets = np.array([label_ids[e.intent] for e in holdout], dtype=np.int64)
    train_texts, holdout_texts = [e.text for e in train], [e.text for e in holdout]
    weight, bias = train_head(train_vectors, train_targets, len(labels), config, progress)
    held_out = (holdout_vectors @ weight.T + bias, holdout_texts, holdout_targets)
    lexical, share, share_metrics = _lexical_part(
        train_texts, train_targets, held_out, len(labels), config, progress
    )
    provisional = IntentClassifier(
        labels,
        weight,
        bias,
        ClassifierSettings(1.0, 0.0, config.ambiguity_margin, lexical_share=share),
        memory_of(train_vectors, train_targets, labels, train_texts),
        lexical,
    )
    settings, metrics = calibrate(
        provisional, holdout_vectors, holdout_texts, holdout_targets, config
    )
    metrics.update(share_metrics)
    memory_vectors, memory_targets, memory_texts = train_vectors, train_targets, train_texts
    if carved and holdout:
        progress("refitting the intent head on all examples")
        memory_vectors = np.concatenate([train_vectors, holdout_vectors])
        memory_targets = np.concatenate([train_targets, holdout_targets])
        memory_texts = train_texts + holdout_texts
        weight, bias = train_head(memory_vectors, memory_targets, len(labels), config, progress)
        if lexical is not None:
            lexical = fit_lexical_model(
                memory_texts, memory_targets, len(labels), config.lexical_regularisation
            )
    metrics.update(
        train_examples=len(train),
        holdout_examples=len(holdout),
        holdout_source=("carved from training data" if carved else "dataset validation split"),
    )
    memory = memory_of(memory_vectors, memory_targets, labels, memory_texts)
    return ClassifierTrainingResult(
        IntentClassifier(labels, weight, bias, settings, memory, lexical), metrics
    )


def _lexical_part(
    texts: list[str],
    targets: np.ndarray,
    held_out: tuple[np.ndarray, list[str], np.ndarray],
    n_labels: int,
    config: TrainingConfig,
    progress: Progress,
) -> tuple[LexicalModel | None, float, dict]:
    """The n-gram model and its share, or (None, 0) when held-out data says it does not help
    or there is no held-out data to say so."""
    head_logits, holdout_texts, holdout_targets = held_out
    if not config.lexical_features or len(holdout_targets) == 0:
        return None, 0.0, {}
    started = time.monotonic()
    lexical = fit_lexical_model(texts, targets, n_labels, config.lexical_regularisation)
    share, accuracy = choose_share(head_logits, lexical.logits(holdout_texts), holdout_targets)
    progress(
        f"  n-gram model: held-out accuracy by share {accuracy}, chose {share} "
        f"({time.monotonic() - started:.1f}s)"
    )
    metrics = {"lexical_share": share, "holdout_accuracy_by_lexical_share": accuracy}
    return (lexical if share > 0 else None), share, metrics


def memory_of(
    vectors: np.ndarray, targets: np.ndarray, labels: list[str], texts: list[str]
) -> ExampleMemory:
    """In-scope examples only: nearness to an out-of-scope example supports no intent."""
    keep = np.array([labels[t] != OUT_OF_SCOPE for t in targets], dtype=bool)
    kept_texts = [text for text, k in zip(texts, keep, strict=True) if k]
    return ExampleMemory(vectors[keep], targets[keep].astype(np.int32), kept_texts)


def calibrate(
    classifier: IntentClassifier,
    vectors: np.ndarray,
    texts: list[str],
    targets: np.ndarray,
    config: TrainingConfig,
) -> tuple[ClassifierSettings, dict]:
    """Temperature, confidence and support thresholds from held-out data, and their metrics."""
    labels = classifier.labels
    n_in_scope = len(classifier.intents)
    share = classifier.settings.lexical_share
    if len(targets) == 0:
        threshold = min(0.5, 1.5 / max(n_in_scope, 1))
        return ClassifierSettings(1.0, threshold, config.ambiguity_margin), {}
    logits = classifier.scores(vectors, texts)
    temperature = fit_temperature(logits, targets)
    probs = softmax(logits / temperature)
    predicted = classifier.top_in_scope(probs)
    confidence = probs[np.arange(len(probs)), predicted]
    support = classifier.support(vectors, predicted)
    is_oos = np.array([labels[t] == OUT_OF_SCOPE for t in targets], dtype=bool)
    correct = (predicted == targets) & ~is_oos
    inside = ~is_oos
    class_rejects = np.zeros(len(targets), dtype=bool)
    if OUT_OF_SCOPE in labels:
        class_rejects = probs.argmax(axis=1) == labels.index(OUT_OF_SCOPE)
    weight, aurocs = choose_support_weight(confidence, support, is_oos)
    threshold, similarity = choose_thresholds(
        in_scope_score(confidence, support, weight),
        support,
        class_rejects,
        correct,
        is_oos,
        confidence_floor=min(0.5, 1.5 / max(n_in_scope, 1)),
        oos_recall_target=config.oos_recall_target,
    )
    settings = ClassifierSettings(
        temperature,
        threshold,
        config.ambiguity_margin,
        similarity,
        lexical_share=share,
        support_weight=weight,
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
