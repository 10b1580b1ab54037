"""Fits the n-gram intent model and chooses how much say it gets beside the vector head.

The share is chosen on held-out data only: each candidate share fuses the two models'
held-out log-probabilities, and the most accurate wins (ties go to the smaller share,
which leans on the encoder that generalises to unseen wording).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from retrieval.lexical import FEATURE_BLOCKS, LexicalModel, NgramBlock, NgramSpec, fuse

SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
MIN_DF_FROM = 1000
"""Below this many examples every n-gram is kept; above, n-grams seen once are dropped."""


def fit_lexical_model(
    texts: list[str], targets: np.ndarray, n_labels: int, regularisation: float
) -> LexicalModel:
    """TF-IDF blocks plus multinomial logistic regression; labels never seen get no logits
    advantage (their rows stay zero, their bias very negative)."""
    min_df = 2 if len(texts) >= MIN_DF_FROM else 1
    blocks = [_fit_block(spec, texts, min_df) for spec in FEATURE_BLOCKS]
    partial = LexicalModel(
        blocks, np.zeros((n_labels, _width(blocks)), np.float32), np.zeros(n_labels, np.float32)
    )
    features = partial.features(texts)
    seen = np.unique(targets)
    weight = np.zeros((n_labels, features.shape[1]), dtype=np.float32)
    bias = np.full(n_labels, -30.0, dtype=np.float32)
    if len(seen) == 1:
        bias[seen[0]] = 0.0
        return LexicalModel(blocks, weight, bias)
    regression = LogisticRegression(C=regularisation, max_iter=3000).fit(features, targets)
    coef, intercept = regression.coef_, regression.intercept_
    if len(seen) == 2:
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight[regression.classes_] = coef
    bias[regression.classes_] = intercept
    return LexicalModel(blocks, weight, bias)


def choose_share(
    head_logits: np.ndarray, lexical_logits: np.ndarray, targets: np.ndarray
) -> tuple[float, dict[str, float]]:
    """The candidate share with the best held-out accuracy, and every share's accuracy."""
    accuracy = {
        share: float((fuse(head_logits, lexical_logits, share).argmax(1) == targets).mean())
        for share in SHARES
    }
    best = max(SHARES, key=lambda share: (accuracy[share], -share))
    return best, {f"{share:.1f}": round(value, 4) for share, value in accuracy.items()}


def _fit_block(spec: NgramSpec, texts: list[str], min_df: int) -> NgramBlock:
    vectorizer = TfidfVectorizer(
        analyzer=spec.analyzer, ngram_range=spec.ngram_range, sublinear_tf=True, min_df=min_df
    ).fit(texts)
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    return NgramBlock(spec, vocabulary, vectorizer.idf_)


def _width(blocks: list[NgramBlock]) -> int:
    return sum(len(block.vocabulary) for block in blocks)
