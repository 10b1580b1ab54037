"""`supportbot eval`'s report folder, on the tiny shop bot, and its pure metric helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.calibration import expected_calibration_error
from training.eval_plots import confusion_layout, plot_confusion_matrix, reliability_bins
from training.evaluate import (
    OOS_KEYS,
    Outcomes,
    calibration_error,
    evaluate_model,
    out_of_scope_metrics,
    sorted_errors,
)
from training.schema import Example, Source

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IN_SCOPE_ROWS = [
    "hello there,greet",
    "bye bye,goodbye",
    "thank you very much,thanks",
    "has my parcel shipped,order_status",
    "where is my package,order_status",
    "how can I send this back,return_item",
    "how long does delivery take,shipping_time",
    "do you take american express,payment_methods",
    "can I speak to a real person,talk_to_human",
]
MISLABELLED_ROWS = [
    "where is my order,return_item",
    "thanks a lot,goodbye",
    "do you accept paypal,greet",
]
OOS_ROWS = [
    "what is the capital of peru,out_of_scope",
    "how many moons does jupiter have,out_of_scope",
    "write me a poem about penguins,out_of_scope",
    "what is the square root of 81,out_of_scope",
]
PLOTS = ("intent_confusion_matrix.png", "intent_histogram.png", "intent_reliability.png")


def _evaluate(model_dir: Path, folder: Path, rows: list[str]) -> tuple[dict, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    labelled = folder / "test.csv"
    labelled.write_text("text,label\n" + "\n".join(rows) + "\n")
    out = folder / "results"
    return evaluate_model(model_dir, labelled, out), out


@pytest.fixture(scope="module")
def with_oos(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    rows = IN_SCOPE_ROWS + MISLABELLED_ROWS + OOS_ROWS
    return _evaluate(tiny_model_dir, tmp_path_factory.mktemp("eval-oos"), rows)


@pytest.fixture(scope="module")
def without_oos(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path]:
    folder = tmp_path_factory.mktemp("eval-in-scope")
    (folder / "results").mkdir()
    (folder / "results" / "oos_report.json").write_text("{}")
    return _evaluate(tiny_model_dir, folder, IN_SCOPE_ROWS)


def test_report_folder_holds_every_file_with_valid_pngs(with_oos):
    summary, out = with_oos
    expected = {
        "intent_report.json",
        "intent_errors.json",
        "oos_report.json",
        "summary.json",
        *PLOTS,
    }
    assert expected <= {p.name for p in out.iterdir()}
    assert {Path(p).name for p in summary["files"].values()} == expected
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_intent_report_has_classification_report_shape(with_oos):
    summary, out = with_oos
    report = json.loads((out / "intent_report.json").read_text())
    assert {"accuracy", "macro avg", "weighted avg", "order_status", "out_of_scope"} <= set(report)
    for label in ("order_status", "out_of_scope", "macro avg", "weighted avg"):
        assert set(report[label]) == {"precision", "recall", "f1-score", "support"}
    assert report["out_of_scope"]["support"] == len(OOS_ROWS)
    assert summary["report"] == str(out / "intent_report.json")


def test_summary_has_oos_metrics_calibration_and_speed(with_oos):
    summary, out = with_oos
    assert (summary["in_scope_examples"], summary["oos_examples"]) == (12, 4)
    assert summary["examples"] == 16
    for key in (*OOS_KEYS, "ece", "accuracy", "top_intent_accuracy_in_scope"):
        assert 0.0 <= summary[key] <= 1.0, key
    assert summary["eval_seconds"] > 0 and summary["examples_per_second"] > 0
    assert json.loads((out / "summary.json").read_text()) == summary
    oos_report = json.loads((out / "oos_report.json").read_text())
    assert {k: oos_report[k] for k in OOS_KEYS} == {k: summary[k] for k in OOS_KEYS}
    assert oos_report["oos_examples"] == 4


def test_errors_are_sorted_most_confident_first(with_oos):
    summary, out = with_oos
    errors = json.loads((out / "intent_errors.json").read_text())
    assert len(errors) == summary["errors"] >= len(MISLABELLED_ROWS)
    confidences = [e["intent_prediction"]["confidence"] for e in errors]
    assert confidences == sorted(confidences, reverse=True)
    for error in errors:
        assert set(error) == {"text", "intent", "source", "intent_prediction"}


def test_without_oos_rows_there_is_no_oos_report(without_oos):
    summary, out = without_oos
    assert not (out / "oos_report.json").exists()
    assert "oos_report" not in summary["files"]
    assert all(summary[key] is None for key in OOS_KEYS)
    assert summary["oos_examples"] == 0
    assert 0.0 <= summary["ece"] <= 1.0
    assert all((out / name).read_bytes().startswith(PNG_MAGIC) for name in PLOTS)


def _outcomes(truth, predicted, top, confidence, score=None) -> Outcomes:
    return Outcomes(
        truth=np.array(truth, dtype=object),
        predicted=np.array(predicted, dtype=object),
        top=np.array(top, dtype=object),
        confidence=np.array(confidence, dtype=float),
        score=np.array(confidence if score is None else score, dtype=float),
        judged_oos=np.array([p == "out_of_scope" for p in predicted]),
    )


OOS = "out_of_scope"
HAND_MADE = _outcomes(
    truth=["a", "a", "b", OOS, OOS, OOS, OOS],
    predicted=["a", OOS, OOS, OOS, "a", OOS, OOS],
    top=["a", "a", "b", "a", "a", "b", "a"],
    confidence=[0.9, 0.3, 0.5, 0.2, 0.95, 0.4, 0.1],
)


def test_oos_metrics_on_hand_made_outcomes():
    assert out_of_scope_metrics(HAND_MADE) == {
        "oos_recall": 0.75,
        "oos_precision": 0.6,
        "oos_auroc": 0.6667,
        "in_scope_accuracy": 0.3333,
    }


def test_oos_auroc_ranks_by_the_score_the_threshold_cuts():
    """With the similarity blended in, the AUROC is of that blend, not of the confidence."""
    truth, predicted, top = ["a", "a", OOS, OOS], ["a", "a", OOS, OOS], ["a"] * 4
    confidence = [0.9, 0.4, 0.5, 0.1]
    assert out_of_scope_metrics(_outcomes(truth, predicted, top, confidence))["oos_auroc"] == 0.75
    blended = _outcomes(truth, predicted, top, confidence, score=[1.5, 1.2, 0.8, 0.3])
    assert out_of_scope_metrics(blended)["oos_auroc"] == 1.0


def test_oos_metrics_edge_cases():
    in_scope_only = _outcomes(["a", "b"], ["a", "a"], ["a", "a"], [0.9, 0.8])
    assert out_of_scope_metrics(in_scope_only) is None
    none_caught = _outcomes(["a", OOS], ["a", "a"], ["a", "a"], [0.9, 0.8])
    assert out_of_scope_metrics(none_caught) == {
        "oos_recall": 0.0,
        "oos_precision": 0.0,
        "oos_auroc": 1.0,
        "in_scope_accuracy": 1.0,
    }
    oos_only = _outcomes([OOS], [OOS], ["a"], [0.1])
    assert out_of_scope_metrics(oos_only)["oos_auroc"] is None


def test_calibration_error_uses_in_scope_top_intent():
    assert calibration_error(HAND_MADE) == pytest.approx((0.1 + 0.7 + 0.5) / 3)
    assert calibration_error(_outcomes([OOS], [OOS], ["a"], [0.1])) is None


def test_reliability_bins_match_the_ece_binning():
    confidence = np.array([0.05, 0.06, 0.95, 0.5])
    correct = np.array([1, 0, 1, 0])
    stats = reliability_bins(confidence, correct, bins=10)
    assert stats.counts.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert stats.accuracy[0] == 0.5 and stats.confidence[0] == pytest.approx(0.055)
    assert np.isnan(stats.accuracy[1])
    filled = stats.counts > 0
    gaps = np.abs(stats.accuracy[filled] - stats.confidence[filled])
    ece = float((stats.counts[filled] / len(confidence) * gaps).sum())
    assert ece == pytest.approx(expected_calibration_error(confidence, correct, bins=10))


def test_sorted_errors_puts_confident_mistakes_first():
    examples = [Example(t, "a", Source("f.csv", i + 2)) for i, t in enumerate("xyz")]
    predictions = [
        {"intent": "b", "confidence": 0.4},
        {"intent": "a", "confidence": 0.99},
        {"intent": OOS, "confidence": 0.7},
    ]
    errors = sorted_errors(examples, predictions)
    assert [e["text"] for e in errors] == ["z", "x"]
    assert errors[0] == {
        "text": "z",
        "intent": "a",
        "source": "f.csv:4",
        "intent_prediction": {"name": OOS, "confidence": 0.7},
    }


def test_confusion_layout_scales_with_label_count():
    small, banking, clinc, huge = (confusion_layout(n) for n in (8, 77, 151, 1000))
    assert small.inches == 6.0 and small.annotate and small.tick_font == 10.0
    assert not banking.annotate and banking.show_ticks
    assert clinc.show_ticks and clinc.tick_font >= 4.0 and clinc.inches > banking.inches
    assert not huge.show_ticks and huge.inches == 30.0


def test_confusion_matrix_with_many_labels_is_a_png(tmp_path):
    labels = [f"intent_{i:02d}" for i in range(60)]
    truth = labels * 2
    predicted = labels + labels[1:] + labels[:1]
    path = plot_confusion_matrix(truth, predicted, tmp_path / "cm.png")
    assert path.read_bytes().startswith(PNG_MAGIC)
