"""The offensive-language classifier: alt-profanity-check's TF-IDF + calibrated linear SVM,
scored from exported weights (see training/offensive_model_export.py).

Works offline and needs no scikit-learn at serving time. A missing or mismatched weight
file is a loud error at load, never a silent fallback.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import cache
from pathlib import Path

from safetensors.numpy import load_file

from supportbot.errors import ModelError

DATA = Path(__file__).resolve().parent / "data"


class OffensiveScorer:
    """`score(text)` is the probability that `text` is offensive, as alt-profanity-check's
    `predict_prob` computes it (mean of five sigmoid-calibrated SVM folds)."""

    def __init__(self, folder: Path = DATA):
        vocabulary_path, weights_path = (
            folder / "offensive_vocabulary.json",
            folder / "offensive.safetensors",
        )
        try:
            info = json.loads(vocabulary_path.read_text(encoding="utf-8"))
            tensors = load_file(str(weights_path))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{folder}: cannot load the offensive-language model ({exc})") from exc
        vocabulary = info["vocabulary"]
        idf, coef = tensors["idf"], tensors["coef"]
        if len(vocabulary) != idf.shape[0] or coef.shape[1] != idf.shape[0]:
            raise ModelError(f"{weights_path}: weights do not match the vocabulary size")
        self.source_version = info["source_version"]
        self._token = re.compile(info["token_pattern"])
        self._terms = {
            term: (float(idf[i]), [float(w) for w in coef[:, i]])
            for i, term in enumerate(vocabulary)
        }
        self._intercept = [float(b) for b in tensors["intercept"]]
        self._calibration = list(
            zip(
                map(float, tensors["calibration_a"]),
                map(float, tensors["calibration_b"]),
                strict=True,
            )
        )

    def score(self, text: str) -> float:
        """Probability in [0, 1]; text with no known word gets the model's prior."""
        counts = Counter(t for t in self._token.findall(text.lower()) if t in self._terms)
        weights = [
            (count * self._terms[term][0], self._terms[term][1]) for term, count in counts.items()
        ]
        norm = math.sqrt(sum(w * w for w, _ in weights)) or 1.0
        total = 0.0
        for fold, (a, b) in enumerate(self._calibration):
            decision = self._intercept[fold] + sum(w * coef[fold] for w, coef in weights) / norm
            total += 1.0 / (1.0 + math.exp(a * decision + b))
        return total / len(self._calibration)


@cache
def default_scorer() -> OffensiveScorer:
    """Loaded once per process (about 0.1 s), on first use."""
    return OffensiveScorer()
