"""The retrieval abstain threshold: chosen on held-out questions, recorded in the manifest."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.index import PassageIndex
from retrieval.model_dir import read_manifest
from supportbot.config import RetrievalConfig
from training.retrieval_calibration import Judged, calibrate_min_score, choose_threshold
from training.schema import TrainingData


def right(score: float) -> Judged:
    return Judged(score, correct=True, positive=True)


def test_threshold_sits_between_the_last_answer_worth_giving_and_the_next():
    judged = [right(0.9), right(0.8), right(0.7), Judged(0.6, False, True)]
    judged += [Judged(0.5, False, False), Judged(0.3, False, False)]
    assert choose_threshold(judged) == pytest.approx(0.65)


def test_wrong_answers_cost_more_than_right_ones_gain():
    # One right and one wrong above 0.5: answering both loses, so only 0.9 is answered.
    judged = [right(0.9), Judged(0.8, False, False), right(0.7), right(0.4)]
    assert choose_threshold(judged) == pytest.approx(0.85)


def test_when_no_threshold_gains_anything_the_bot_never_answers():
    judged = [Judged(0.7, False, True), Judged(0.6, False, False)]
    assert choose_threshold(judged) == pytest.approx(0.701)


def test_the_tiny_bot_is_calibrated_and_says_how(tiny_model_dir):
    retrieval = read_manifest(tiny_model_dir).retrieval
    calibration = retrieval.calibration
    assert calibration["method"] == "calibrated"
    assert calibration["positives"] >= 20 and calibration["negatives"] >= 40
    assert 0.2 < retrieval.min_score < 0.9
    assert calibration["precision"] >= 0.8 and calibration["negatives_answered"] <= 0.1


def test_thin_data_falls_back_to_the_configured_default(tiny_model_dir):
    info = read_manifest(tiny_model_dir).retrieval
    index = PassageIndex.open(tiny_model_dir, info)
    rng = np.random.default_rng(0)

    def encode(texts: list[str]) -> np.ndarray:
        rows = rng.standard_normal((len(texts), index.dimension)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    config = RetrievalConfig(fallback_min_score=0.55)
    score, report = calibrate_min_score(index, encode, TrainingData(), config)
    assert score == 0.55 and report["method"] == "fallback"
    assert report["reason"].startswith("0 labelled question(s) with a known answer")
    configured = RetrievalConfig(min_score=0.7)
    assert calibrate_min_score(index, encode, TrainingData(), configured) == (
        0.7,
        {"method": "configured"},
    )
    index.store.close()


def test_help_articles_get_a_threshold_of_their_own_never_above_the_pairs(tiny_model_dir):
    retrieval = read_manifest(tiny_model_dir).retrieval
    article = retrieval.article_min_score
    assert article is not None and article <= retrieval.min_score
    assert retrieval.threshold_for("article") == article
    assert retrieval.threshold_for("qa") == retrieval.min_score


def test_the_article_threshold_lets_at_most_the_pairs_share_of_negatives_through(tiny_model_dir):
    from retrieval.bot_model import load_serving_encoder
    from training.loader import load_project
    from training.retrieval_calibration import calibrate_article_min_score, negative_questions
    from training.scaffold import scaffold_project

    manifest = read_manifest(tiny_model_dir)
    info = manifest.retrieval
    index = PassageIndex.open(tiny_model_dir, info)
    encoder = load_serving_encoder(tiny_model_dir, manifest)
    project = tiny_model_dir.parent / "scaffold-for-calibration"
    if not project.exists():
        scaffold_project(project)
    data = load_project(project).data
    threshold = calibrate_article_min_score(
        index, encoder.encode, data, info.min_score, info.calibration
    )
    negatives = negative_questions(data)
    found = index.search(negatives, encoder.encode(negatives), 4)
    answered = sum(
        any(h.passage.kind == "article" and h.score >= threshold for h in hits) for hits in found
    )
    allowed = max(info.calibration["negatives_answered"], 0.01)
    assert answered / len(negatives) <= allowed
    index.store.close()
