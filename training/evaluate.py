"""`supportbot eval`: intent accuracy, per-intent precision/recall/F1, calibration and
out-of-scope detection on a labelled file, written as a report folder.

`intent_report.json` has scikit-learn's classification_report shape (per label
precision/recall/f1-score/support, plus accuracy and macro/weighted averages), which is
what Rasa users' CI scripts read; `intent_errors.json` lists the misclassified messages,
most confident first. The PNGs are for people; `summary.json` is what the CLI prints.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, roc_auc_score

from retrieval.bot_model import BotModel
from retrieval.intent_classifier import OUT_OF_SCOPE
from supportbot.errors import DataError
from training import eval_plots
from training.calibration import expected_calibration_error
from training.loader import load_labelled_examples
from training.schema import Example

BATCH = 256
CALIBRATION_BINS = 15
OOS_KEYS = ("oos_recall", "oos_precision", "oos_auroc", "in_scope_accuracy")


@dataclass(frozen=True)
class Outcomes:
    """Per example: the true label, the reported label (OUT_OF_SCOPE when judged so), the
    best in-scope intent and its confidence."""

    truth: np.ndarray
    predicted: np.ndarray
    top: np.ndarray
    confidence: np.ndarray
    score: np.ndarray
    """What the out-of-scope threshold cuts: the confidence, blended with the nearness to
    the top intent's examples when training chose to (ClassifierSettings.support_weight)."""
    judged_oos: np.ndarray

    @classmethod
    def from_predictions(cls, examples: list[Example], predictions: list[dict]) -> Outcomes:
        return cls(
            truth=np.array([e.intent for e in examples], dtype=object),
            predicted=np.array([p["intent"] for p in predictions], dtype=object),
            top=np.array([p["ranking"][0][0] for p in predictions], dtype=object),
            confidence=np.array([p["confidence"] for p in predictions], dtype=float),
            score=np.array([p["in_scope_score"] for p in predictions], dtype=float),
            judged_oos=np.array([p["out_of_scope"] for p in predictions], dtype=bool),
        )

    @property
    def in_scope(self) -> np.ndarray:
        return self.truth != OUT_OF_SCOPE

    @property
    def correct(self) -> np.ndarray:
        """The reported label is right (judging an in-scope message out of scope is wrong)."""
        return self.predicted == self.truth

    @property
    def top_correct(self) -> np.ndarray:
        """The best in-scope intent is right, whatever the out-of-scope decision."""
        return self.top == self.truth


def predict_examples(model: BotModel, examples: list[Example]) -> list[dict]:
    """The classifier's JSON predictions, one encoder pass per batch as the runtime does."""
    predictions = []
    for start in range(0, len(examples), BATCH):
        batch = examples[start : start + BATCH]
        predictions += [p.to_json() for p in model.classify([e.text for e in batch])]
    return predictions


def evaluate_model(
    model_dir: Path,
    file: Path,
    out_dir: Path,
    text_column: str | None = None,
    label_column: str | None = None,
) -> dict:
    """Predict every labelled example, write the report folder, return (and save) the summary.

    `eval_seconds` times prediction only (encoding and classification, not model loading or
    plotting), so `examples_per_second` is comparable across report sizes.
    """
    examples = load_labelled_examples(file, text_column, label_column)
    if not examples:
        raise DataError("no labelled examples to evaluate", file)
    model = BotModel.load(model_dir)
    started = time.perf_counter()
    predictions = predict_examples(model, examples)
    seconds = time.perf_counter() - started
    outcomes = Outcomes.from_predictions(examples, predictions)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = classification_report(
        list(outcomes.truth), list(outcomes.predicted), output_dict=True, zero_division=0
    )
    oos = out_of_scope_metrics(outcomes)
    ece = calibration_error(outcomes)
    files = {
        "intent_report": _write_json(out_dir / "intent_report.json", report),
        "intent_errors": _write_json(
            out_dir / "intent_errors.json", sorted_errors(examples, predictions)
        ),
        **_write_plots(out_dir, outcomes, ece),
        **_write_oos_report(out_dir, oos, outcomes, model),
        "summary": str(out_dir / "summary.json"),
    }
    summary = {
        **_accuracy_summary(report, outcomes, model),
        "ece": None if ece is None else round(ece, 4),
        **(oos or dict.fromkeys(OOS_KEYS)),
        "eval_seconds": round(seconds, 3),
        "examples_per_second": round(len(examples) / max(seconds, 1e-9), 1),
        "report": files["intent_report"],
        "files": files,
    }
    _write_json(out_dir / "summary.json", summary)
    return summary


def _accuracy_summary(report: dict, outcomes: Outcomes, model: BotModel) -> dict:
    in_scope = outcomes.in_scope
    known = set(model.classifier.labels) | {OUT_OF_SCOPE}
    return {
        "examples": len(outcomes.truth),
        "in_scope_examples": int(in_scope.sum()),
        "oos_examples": int((~in_scope).sum()),
        "accuracy": round(report["accuracy"], 4),
        "top_intent_accuracy_in_scope": _share(outcomes.top_correct[in_scope]),
        "judged_out_of_scope_in_scope": _share(outcomes.judged_oos[in_scope]),
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "weighted_f1": round(report["weighted avg"]["f1-score"], 4),
        "errors": int((~outcomes.correct).sum()),
        "labels_unknown_to_model": sorted(set(outcomes.truth) - known),
    }


def calibration_error(outcomes: Outcomes) -> float | None:
    """ECE of the top in-scope intent on in-scope examples: whether the confidence a reply is
    chosen on means what it says, apart from the out-of-scope decision. None without any."""
    in_scope = outcomes.in_scope
    if not in_scope.any():
        return None
    return expected_calibration_error(
        outcomes.confidence[in_scope], outcomes.top_correct[in_scope], CALIBRATION_BINS
    )


def out_of_scope_metrics(outcomes: Outcomes) -> dict | None:
    """Out-of-scope detection with out of scope as the positive class; None when the data has
    no out-of-scope examples. AUROC scores the negated in-scope score, the same signal the
    threshold cuts, and is None when the data has no in-scope examples to rank against."""
    is_oos = ~outcomes.in_scope
    if not is_oos.any():
        return None
    auroc = None
    if outcomes.in_scope.any():
        auroc = round(float(roc_auc_score(is_oos, -outcomes.score)), 4)
    return {
        "oos_recall": _share(outcomes.judged_oos[is_oos]),
        "oos_precision": _share(is_oos[outcomes.judged_oos], empty=0.0),
        "oos_auroc": auroc,
        "in_scope_accuracy": _share(outcomes.correct[outcomes.in_scope]),
    }


def sorted_errors(examples: list[Example], predictions: list[dict]) -> list[dict]:
    """Misclassified examples, most confident first: those are the ones a threshold cannot
    catch and the first to fix in the data (Rasa orders its error file the same way)."""
    errors = [
        {
            "text": e.text,
            "intent": e.intent,
            "source": str(e.source),
            "intent_prediction": {"name": p["intent"], "confidence": p["confidence"]},
        }
        for e, p in zip(examples, predictions, strict=True)
        if p["intent"] != e.intent
    ]
    return sorted(errors, key=lambda error: -error["intent_prediction"]["confidence"])


def _write_plots(out_dir: Path, outcomes: Outcomes, ece: float | None) -> dict[str, str]:
    in_scope = outcomes.in_scope
    paths = {
        "intent_confusion_matrix": eval_plots.plot_confusion_matrix(
            list(outcomes.truth), list(outcomes.predicted), out_dir / "intent_confusion_matrix.png"
        ),
        "intent_histogram": eval_plots.plot_confidence_histogram(
            outcomes.confidence, outcomes.correct, out_dir / "intent_histogram.png"
        ),
        "intent_reliability": eval_plots.plot_reliability(
            outcomes.confidence[in_scope],
            outcomes.top_correct[in_scope],
            ece,
            out_dir / "intent_reliability.png",
            CALIBRATION_BINS,
        ),
    }
    return {name: str(path) for name, path in paths.items()}


def _write_oos_report(
    out_dir: Path, oos: dict | None, outcomes: Outcomes, model: BotModel
) -> dict[str, str]:
    """oos_report.json when the data has out-of-scope examples; otherwise a stale one from an
    earlier run in the same folder is removed, so the folder never contradicts the summary."""
    path = out_dir / "oos_report.json"
    if oos is None:
        path.unlink(missing_ok=True)
        return {}
    return {"oos_report": _write_json(path, _oos_report(oos, outcomes, model))}


def _oos_report(oos: dict, outcomes: Outcomes, model: BotModel) -> dict:
    """The metrics with the counts and the model thresholds that produced them."""
    is_oos = ~outcomes.in_scope
    settings = model.classifier.settings
    return {
        **oos,
        "oos_examples": int(is_oos.sum()),
        "in_scope_examples": int(outcomes.in_scope.sum()),
        "oos_caught": int((outcomes.judged_oos & is_oos).sum()),
        "in_scope_judged_oos": int((outcomes.judged_oos & outcomes.in_scope).sum()),
        "oos_threshold": settings.oos_threshold,
        "similarity_threshold": settings.similarity_threshold,
        "support_weight": settings.support_weight,
        "model_has_oos_class": OUT_OF_SCOPE in model.classifier.labels,
    }


def _write_json(path: Path, data: dict | list) -> str:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return str(path)


def _share(flags: np.ndarray, empty: float | None = None) -> float | None:
    """Fraction of true `flags`, rounded; `empty` when there are none to count."""
    if len(flags) == 0:
        return empty
    return round(float(np.mean(flags)), 4)
