"""`supportbot eval`: intent accuracy and per-intent precision/recall/F1 on a labelled file.

`intent_report.json` has scikit-learn's classification_report shape (per label
precision/recall/f1-score/support, plus accuracy and macro/weighted averages), which is
what Rasa users' CI scripts read; `intent_errors.json` lists the misclassified messages.
"""

from __future__ import annotations

import json
from pathlib import Path

from sklearn.metrics import classification_report

from bot.errors import DataError
from retrieval.bot_model import BotModel
from retrieval.intent_classifier import OUT_OF_SCOPE
from training.loader import load_labelled_examples
from training.schema import Example

BATCH = 256


def predict_examples(model: BotModel, examples: list[Example]) -> list[dict]:
    predictions = []
    for start in range(0, len(examples), BATCH):
        batch = examples[start : start + BATCH]
        vectors = model.encoder.encode([e.text for e in batch])
        predictions += [p.to_json() for p in model.classifier.predict(vectors)]
    return predictions


def evaluate_model(
    model_dir: Path,
    file: Path,
    out_dir: Path,
    text_column: str | None = None,
    label_column: str | None = None,
) -> dict:
    examples = load_labelled_examples(file, text_column, label_column)
    if not examples:
        raise DataError("no labelled examples to evaluate", file)
    model = BotModel.load(model_dir)
    predictions = predict_examples(model, examples)
    truth = [e.intent for e in examples]
    predicted = [p["intent"] for p in predictions]
    report = classification_report(truth, predicted, output_dict=True, zero_division=0)
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
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "intent_report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out_dir / "intent_errors.json").write_text(json.dumps(errors, indent=2), encoding="utf-8")
    unknown = sorted(set(truth) - set(model.classifier.labels) - {OUT_OF_SCOPE})
    return {
        "examples": len(examples),
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "weighted_f1": round(report["weighted avg"]["f1-score"], 4),
        "errors": len(errors),
        "labels_unknown_to_model": unknown,
        "report": str(out_dir / "intent_report.json"),
    }
