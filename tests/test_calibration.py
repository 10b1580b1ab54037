"""Threshold and calibration choices on hand-made held-out data."""

from __future__ import annotations

import numpy as np

from training.calibration import (
    choose_support_weight,
    choose_thresholds,
    expected_calibration_error,
    fit_temperature,
)
from training.cross_validation import fold_of


def test_without_oos_examples_thresholds_keep_correct_and_reject_wrong():
    confidence = np.array([0.9, 0.8, 0.85, 0.95, 0.3, 0.2])
    support = np.array([0.9, 0.7, 0.8, 0.9, 0.2, 0.6])
    correct = np.array([True, True, True, True, False, False])
    none = np.zeros(6, dtype=bool)
    t_conf, t_support = choose_thresholds(confidence, support, none, correct, none, 0.05, keep=1.0)
    accepted = (confidence >= t_conf) & (support >= t_support)
    assert accepted.tolist() == [True, True, True, True, False, False]


def test_with_oos_examples_thresholds_separate_them():
    rng = np.random.default_rng(0)
    inside_conf = rng.uniform(0.6, 1.0, 50)
    oos_conf = rng.uniform(0.0, 0.5, 10)
    confidence = np.concatenate([inside_conf, oos_conf])
    support = np.concatenate([rng.uniform(0.5, 1.0, 50), rng.uniform(0.0, 0.4, 10)])
    is_oos = np.array([False] * 50 + [True] * 10)
    correct = ~is_oos
    t_conf, t_support = choose_thresholds(
        confidence, support, np.zeros(60, dtype=bool), correct, is_oos, 0.05
    )
    accepted = (confidence >= t_conf) & (support >= t_support)
    assert accepted[:50].all() and not accepted[50:].any()


def test_overlapping_oos_examples_reject_the_target_share_and_keep_the_most():
    # In-scope confidence spreads over 0.3-1.0 and out-of-scope over 0-0.6: rejecting every
    # out-of-scope message would cost many correct answers; the target asks for 80%.
    inside_conf = np.linspace(0.3, 1.0, 200)
    oos_conf = np.linspace(0.0, 0.6, 40)
    confidence = np.concatenate([inside_conf, oos_conf])
    support = np.ones(240)
    is_oos = np.array([False] * 200 + [True] * 40)
    correct = ~is_oos
    none = np.zeros(240, dtype=bool)
    t_conf, _ = choose_thresholds(
        confidence, support, none, correct, is_oos, 0.0, oos_recall_target=0.8
    )
    rejected = confidence < t_conf
    assert rejected[is_oos].mean() >= 0.8
    assert rejected[is_oos].mean() < 0.9
    assert rejected[~is_oos].mean() < 0.3  # the least that reaches 80%: (0.48 - 0.3) / 0.7


def test_temperature_softens_overconfident_logits():
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 3, 200)
    logits = rng.normal(0, 1, (200, 3))
    logits[np.arange(200), targets] += 1.0
    assert fit_temperature(logits * 10, targets) > 3.0


def test_ece_is_zero_when_confidence_matches_accuracy():
    confidence = np.array([1.0, 1.0, 0.5, 0.5])
    correct = np.array([True, True, True, False])
    assert expected_calibration_error(confidence, correct) == 0.0


def test_the_similarity_is_blended_in_when_it_ranks_out_of_scope_messages_better():
    # Confidence alone confuses the third in-scope message with the first out-of-scope one;
    # its nearness to an example tells them apart.
    confidence = np.array([0.9, 0.8, 0.3, 0.35, 0.1, 0.2, 0.15, 0.05])
    support = np.array([0.8, 0.7, 0.9, 0.1, 0.2, 0.1, 0.3, 0.2])
    is_oos = np.array([False, False, False, True, True, True, True, True])
    weight, aurocs = choose_support_weight(confidence, support, is_oos)
    assert aurocs["0"] == 0.9333 and aurocs[f"{weight:g}"] == 1.0
    assert weight == 0.5  # the smallest weight with the best AUROC


def test_the_confidence_alone_without_enough_out_of_scope_examples_or_help():
    confidence = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    support = np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    few = np.array([False, False, False, True, True])
    assert choose_support_weight(confidence, support, few) == (0.0, {})
    enough = np.array([False, False, False, False, False, True, True, True, True, True])
    weight, aurocs = choose_support_weight(
        np.r_[confidence, confidence], np.r_[support, support], enough
    )
    assert weight == 0.0 and len(set(aurocs.values())) == 1  # a constant similarity adds nothing


def test_with_oos_examples_ties_go_to_the_tighter_thresholds():
    # Every support threshold up to the in-scope minimum keeps all and rejects all the
    # out-of-scope examples: the tightest of them also guards against unseen ones.
    rng = np.random.default_rng(0)
    confidence = np.concatenate([rng.uniform(0.6, 1.0, 50), rng.uniform(0.0, 0.3, 10)])
    support = np.concatenate([rng.uniform(0.5, 1.0, 50), rng.uniform(0.0, 0.4, 10)])
    is_oos = np.array([False] * 50 + [True] * 10)
    none = np.zeros(60, dtype=bool)
    t_conf, t_support = choose_thresholds(confidence, support, none, ~is_oos, is_oos, 0.05)
    assert t_conf == confidence[:50].min()
    assert t_support == support[:50].min()


def test_folds_are_stratified_and_singletons_always_train():
    targets = np.array([0] * 10 + [1] * 7 + [2])
    folds = fold_of(targets, 5, seed=0)
    assert folds[17] == -1
    for label in (0, 1):
        counts = np.bincount(folds[targets == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert sorted(set(folds[:17].tolist())) == [0, 1, 2, 3, 4]


def test_small_bot_calibrates_by_cross_validation(tiny_model_dir):
    # The `supportbot init` bot has a few dozen examples.
    import json

    metrics = json.loads((tiny_model_dir / "manifest.json").read_text())["metrics"]
    assert metrics["calibration"] == "5-fold cross-validation"
    assert metrics["holdout_examples"] < 3000
