"""The out-of-scope decision: confidence blended with nearness to the top intent's examples."""

from __future__ import annotations

import numpy as np

from retrieval.intent_classifier import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    ExampleMemory,
    IntentClassifier,
    explain,
)

EXAMPLES = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
NEAR, FAR = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)


def _classifier(support_weight: float) -> IntentClassifier:
    """A head of zeros: every message gets intent "a" at confidence 0.5, so only the
    similarity to "a"'s one example tells messages apart."""
    settings = ClassifierSettings(1.0, 1.0, 0.0, support_weight=support_weight)
    memory = ExampleMemory(EXAMPLES, np.array([0, 1], np.int32), ["card", "top up"])
    weight, bias = np.zeros((2, 2), np.float32), np.zeros(2, np.float32)
    return IntentClassifier(["a", "b"], weight, bias, settings, memory)


def test_nearness_lifts_a_message_over_the_threshold_the_confidence_misses():
    near, far = _classifier(support_weight=2.0).predict(np.stack([NEAR, FAR]), ["x", "y"])
    assert (near.intent, near.confidence, near.in_scope_score) == ("a", 0.5, 2.5)
    assert (far.intent, far.in_scope_score) == (OUT_OF_SCOPE, 0.5)
    assert near.to_json()["in_scope_score"] == 2.5


def test_without_a_weight_the_threshold_cuts_the_confidence_alone():
    predictions = _classifier(support_weight=0.0).predict(np.stack([NEAR, FAR]), ["x", "y"])
    assert [(p.intent, p.score) for p in predictions] == [(OUT_OF_SCOPE, 0.5)] * 2


def test_explain_names_the_blended_check_with_its_value():
    classifier = _classifier(support_weight=2.0)
    [prediction] = classifier.predict(NEAR[None, :], ["x"])
    [check, *_] = explain(classifier, NEAR, "x", prediction)["checks"]
    assert check == {
        "check": "confidence + 2 x similarity",
        "value": 2.5,
        "threshold": 1.0,
        "passed": True,
    }
