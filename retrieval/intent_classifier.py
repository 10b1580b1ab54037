"""Intent classification at inference: a linear head over sentence vectors, fused with an
n-gram model when training found it helps, temperature-calibrated, with an out-of-scope
threshold and an ambiguity margin chosen at training time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from retrieval.lexical import LexicalModel, fuse
from supportbot.errors import ModelError

OUT_OF_SCOPE = "out_of_scope"
HEAD_FILE = "classifier/head.safetensors"
EXAMPLES_FILE = "classifier/examples.json"


@dataclass(frozen=True)
class IntentPrediction:
    """One message's intent. `intent` is OUT_OF_SCOPE when no in-scope intent is trusted."""

    intent: str
    confidence: float
    out_of_scope: bool
    ambiguous: bool
    ranking: list[tuple[str, float]]
    support: float = 1.0
    """Cosine similarity to the nearest training example of the top intent."""
    in_scope_score: float | None = None
    """What the out-of-scope threshold cuts: the confidence, plus the similarity times
    `ClassifierSettings.support_weight`. None reads as the confidence."""

    @property
    def top_intent(self) -> str:
        """The best in-scope intent, even when the message was judged out of scope."""
        return self.ranking[0][0]

    def to_json(self) -> dict:
        return {
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "out_of_scope": self.out_of_scope,
            "ambiguous": self.ambiguous,
            "ranking": [[name, round(score, 4)] for name, score in self.ranking],
            "support": round(self.support, 4),
            "in_scope_score": round(self.score, 4),
        }

    @property
    def score(self) -> float:
        return self.confidence if self.in_scope_score is None else self.in_scope_score


@dataclass
class ClassifierSettings:
    """The decision parameters saved in the manifest next to the head's weights."""

    temperature: float
    oos_threshold: float
    ambiguity_margin: float
    similarity_threshold: float = 0.0
    ranking_size: int = 10
    lexical_share: float = 0.0
    """Weight of the n-gram model's log-probabilities in the fused score (0: vectors only)."""
    support_weight: float = 0.0
    """How much the similarity to the top intent's nearest example adds to the confidence
    before `oos_threshold` cuts: one score ranks out-of-scope messages better than either
    (training/calibration.py, `choose_support_weight`)."""

    feature_layers: int = 1
    """How many of the encoder's last layers the head reads (`encode_layers`); 1 is the
    sentence vector alone."""

    def in_scope_score(self, confidence: float, support: float) -> float:
        return in_scope_score(confidence, support, self.support_weight)


def last_layers(features: np.ndarray, encoded: int, keep: int) -> np.ndarray:
    """The last `keep` layers' columns of `encode_layers` features holding `encoded` layers;
    `keep=1` gives the sentence vectors."""
    if keep == encoded:
        return features
    width = features.shape[-1] // encoded
    return np.ascontiguousarray(features[..., (encoded - keep) * width :])


def in_scope_score(confidence, support, weight: float):
    """The confidence plus `weight` times the similarity to the top intent's nearest
    example: what the out-of-scope threshold cuts (numbers or arrays alike)."""
    return confidence + weight * support


@dataclass(frozen=True)
class ExampleMemory:
    """The training examples' vectors, to measure how close a message is to what an intent
    was taught with: a softmax is confident far from all data; nearness is not."""

    vectors: np.ndarray
    labels: np.ndarray
    """Row index into the classifier's labels, per vector."""
    texts: list[str]
    """The training texts, to show which examples support a decision."""

    def support(self, vectors: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
        """Per message, its best cosine to a training example of its label (-1 if none).
        Only that label's examples are read: scanning them all took ~1 ms per message."""
        groups = self._by_label
        best = np.full(len(vectors), -1.0, dtype=np.float32)
        for row, label in enumerate(label_ids):
            examples = groups.get(int(label))
            if examples is not None:
                best[row] = (examples @ vectors[row]).max()
        return best

    @cached_property
    def _by_label(self) -> dict[int, np.ndarray]:
        """Label id -> its examples' vectors, contiguous."""
        return {
            int(label): np.ascontiguousarray(self.vectors[self.labels == label])
            for label in np.unique(self.labels)
        }

    def nearest(self, vector: np.ndarray, k: int, label_id: int | None = None) -> list[tuple]:
        """(text, label id, similarity) of the k nearest examples, optionally of one label."""
        similarity = self.vectors @ vector
        if label_id is not None:
            similarity = np.where(self.labels == label_id, similarity, -2.0)
        order = np.argsort(-similarity)[:k]
        return [
            (self.texts[i], int(self.labels[i]), float(similarity[i]))
            for i in order
            if similarity[i] > -2.0
        ]


class IntentClassifier:
    """Scores features from the encoder (`encode_layers` with `settings.feature_layers`);
    the out-of-scope label, when trained, is one more class. Nearness to training examples
    is measured on the sentence vectors inside those features."""

    def __init__(
        self,
        labels: list[str],
        weight: np.ndarray,
        bias: np.ndarray,
        settings: ClassifierSettings,
        memory: ExampleMemory | None = None,
        lexical: LexicalModel | None = None,
    ):
        if weight.shape != (len(labels), weight.shape[1]) or bias.shape != (len(labels),):
            raise ModelError(
                f"classifier head has shape {weight.shape}/{bias.shape} "
                f"but the manifest lists {len(labels)} labels"
            )
        self.labels = labels
        self.weight = weight.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.settings = settings
        self.memory = memory
        if lexical is not None and lexical.n_labels != len(labels):
            raise ModelError(
                f"lexical model scores {lexical.n_labels} labels; the manifest lists {len(labels)}"
            )
        self.lexical = lexical
        self._in_scope = np.array([label != OUT_OF_SCOPE for label in labels])

    @property
    def intents(self) -> list[str]:
        return [label for label in self.labels if label != OUT_OF_SCOPE]

    def scores(self, features: np.ndarray, texts: list[str]) -> np.ndarray:
        """Uncalibrated log-probabilities: the vector head's, fused with the n-gram model's."""
        head = features @ self.weight.T + self.bias
        share = self.settings.lexical_share if self.lexical is not None else 0.0
        lexical = self.lexical.logits(texts) if self.lexical is not None and share > 0 else None
        return fuse(head, lexical, share)

    def probabilities(self, features: np.ndarray, texts: list[str]) -> np.ndarray:
        return softmax(self.scores(features, texts) / self.settings.temperature)

    def top_in_scope(self, probs: np.ndarray) -> np.ndarray:
        return np.where(self._in_scope[None, :], probs, -1.0).argmax(axis=1)

    def sentence_vectors(self, features: np.ndarray) -> np.ndarray:
        return last_layers(features, self.settings.feature_layers, 1)

    def support(self, features: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
        if self.memory is None:
            return np.ones(len(features), dtype=np.float32)
        return self.memory.support(self.sentence_vectors(features), label_ids)

    def predict(self, features: np.ndarray, texts: list[str]) -> list[IntentPrediction]:
        probs = self.probabilities(features, texts)
        support = self.support(features, self.top_in_scope(probs))
        return [self._decide(row, float(near)) for row, near in zip(probs, support, strict=True)]

    def _decide(self, probs: np.ndarray, support: float) -> IntentPrediction:
        order = np.argsort(-probs)
        best_label = self.labels[order[0]]
        shown = order[self._in_scope[order]][: self.settings.ranking_size]
        confidences = probs[shown].tolist()
        ranking = [(self.labels[i], p) for i, p in zip(shown.tolist(), confidences, strict=True)]
        top_intent, top_confidence = ranking[0]
        score = self.settings.in_scope_score(top_confidence, support)
        out_of_scope = (
            best_label == OUT_OF_SCOPE
            or score < self.settings.oos_threshold
            or support < self.settings.similarity_threshold
        )
        runner_up = ranking[1][1] if len(ranking) > 1 else 0.0
        ambiguous = not out_of_scope and top_confidence - runner_up < self.settings.ambiguity_margin
        return IntentPrediction(
            intent=OUT_OF_SCOPE if out_of_scope else top_intent,
            confidence=top_confidence,
            out_of_scope=out_of_scope,
            ambiguous=ambiguous,
            ranking=ranking,
            support=support,
            in_scope_score=score,
        )

    def save(self, model_dir: Path) -> list[str]:
        path = model_dir / HEAD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"weight": self.weight, "bias": self.bias}
        if self.memory is not None:
            tensors["examples"] = self.memory.vectors.astype(np.float32)
            tensors["example_labels"] = self.memory.labels.astype(np.int32)
        save_file(tensors, str(path))
        files = [HEAD_FILE]
        if self.memory is not None:
            texts = model_dir / EXAMPLES_FILE
            texts.write_text(json.dumps(self.memory.texts, ensure_ascii=False), encoding="utf-8")
            files.append(EXAMPLES_FILE)
        if self.lexical is not None:
            files += self.lexical.save(model_dir)
        return files

    @classmethod
    def load(
        cls, model_dir: Path, labels: list[str], settings: ClassifierSettings, lexical: bool
    ) -> IntentClassifier:
        tensors = load_file(str(model_dir / HEAD_FILE))
        missing = {"weight", "bias"} - set(tensors)
        if missing:
            raise ModelError(f"{model_dir / HEAD_FILE}: missing tensors {sorted(missing)}")
        memory = None
        if "examples" in tensors:
            examples_file = model_dir / EXAMPLES_FILE
            if not examples_file.is_file():
                raise ModelError(f"{model_dir}: {EXAMPLES_FILE} is missing; retrain the model")
            texts = json.loads(examples_file.read_text(encoding="utf-8"))
            if len(texts) != len(tensors["examples"]):
                raise ModelError(f"{model_dir / EXAMPLES_FILE}: does not match the example vectors")
            memory = ExampleMemory(tensors["examples"], tensors["example_labels"], texts)
        lexical_model = LexicalModel.load(model_dir) if lexical else None
        return cls(labels, tensors["weight"], tensors["bias"], settings, memory, lexical_model)


def explain(
    classifier: IntentClassifier,
    features: np.ndarray,
    text: str,
    prediction: IntentPrediction,
    k: int = 3,
) -> dict:
    """Why a message got its intent: the ranking, the nearest training examples overall and
    of the top intent, and each out-of-scope check with its value and threshold."""
    settings = classifier.settings
    top_id = classifier.labels.index(prediction.top_intent)
    weight = settings.support_weight
    checks = [
        {
            "check": "confidence" + (f" + {weight:g} x similarity" if weight else ""),
            "value": round(prediction.score, 4),
            "threshold": round(settings.oos_threshold, 4),
            "passed": prediction.score >= settings.oos_threshold,
        },
        {
            "check": "similarity to the top intent's examples",
            "value": round(prediction.support, 4),
            "threshold": round(settings.similarity_threshold, 4),
            "passed": prediction.support >= settings.similarity_threshold,
        },
    ]
    if OUT_OF_SCOPE in classifier.labels:
        probs = classifier.probabilities(features[None, :], [text])[0]
        oos_score = float(probs[classifier.labels.index(OUT_OF_SCOPE)])
        checks.append(
            {
                "check": "out-of-scope class below the top intent",
                "value": round(oos_score, 4),
                "threshold": round(prediction.confidence, 4),
                "passed": oos_score < prediction.confidence,
            }
        )
    failed = [str(c["check"]) for c in checks if not c["passed"]]
    memory = classifier.memory
    vector = classifier.sentence_vectors(features)
    nearest = memory.nearest(vector, k) if memory else []
    supporting = memory.nearest(vector, k, top_id) if memory else []
    return {
        "ranking": [[name, round(score, 4)] for name, score in prediction.ranking[:5]],
        "out_of_scope": prediction.out_of_scope,
        "out_of_scope_reason": ("failed: " + ", ".join(failed)) if failed else "all checks passed",
        "checks": checks,
        "ambiguous": prediction.ambiguous,
        "ngram_model_share": settings.lexical_share if classifier.lexical is not None else 0.0,
        "nearest_examples": [_example(classifier, e) for e in nearest],
        "supporting_examples": [_example(classifier, e) for e in supporting],
    }


def _example(classifier: IntentClassifier, entry: tuple) -> dict:
    text, label_id, similarity = entry
    return {"text": text, "intent": classifier.labels[label_id], "similarity": round(similarity, 4)}


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
