"""The retrieval abstain threshold, calibrated on held-out questions at training time.

Positives are labelled customer questions whose intent is the answer key of some resolved
pair in the knowledge base; each is searched with its own pair left out (leave-one-out),
and the top hit is right when its key is the question's intent. Negatives are the data's
out-of-scope examples and a bundled list of off-topic questions: any answer to them is
wrong. The threshold maximises (share of positives answered right) - COST x (share of
positives answered wrong + share of negatives answered): shares, not counts, because the
messages that reach retrieval are the ones no intent fitted, far more often off-topic than
the labelled data's mix suggests.

Help articles have no answer key, so no labelled question can say a hit on one is right:
they get a threshold of their own (`calibrate_article_min_score`), the lowest at which
the held-out negatives are answered by an article no more often than they are answered at
`min_score`, and never above it. A question-and-answer pair mined from a dialogue can be
confidently wrong (a near question with another answer); an article whose title matches
the question is the answer the team wrote for it, so the pairs' threshold threw right
answers away ("When is support available?" at 0.651 against 0.7426 in the demo).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from retrieval.index import Hit, PassageIndex
from supportbot.config import RetrievalConfig
from training.off_topic import OFF_TOPIC_QUESTIONS
from training.schema import OUT_OF_SCOPE, TrainingData

WRONG_ANSWER_COST = 2.0
"""A wrong answer costs twice what a "please rephrase" does: it misleads the customer."""
MIN_POSITIVES = 20
MIN_QUESTION_WORDS = 3
"""Shorter messages ("hi", "thanks") are not questions retrieval should answer."""
MAX_QUESTIONS = 2000
SEARCH_DEPTH = 4
MIN_NEGATIVES = 20
MIN_NEGATIVES_ANSWERED = 100
"""An article may answer at most one negative in this many, however few the pairs do."""


@dataclass(frozen=True)
class Judged:
    score: float
    correct: bool
    positive: bool


def calibrate_min_score(
    index: PassageIndex,
    encode: Callable[[list[str]], np.ndarray],
    data: TrainingData,
    config: RetrievalConfig,
    seed: int = 0,
) -> tuple[float, dict]:
    """(threshold, report for the manifest)."""
    if config.min_score is not None:
        return config.min_score, {"method": "configured"}
    keys = answer_keys(index)
    positives = [
        (e.text, e.intent)
        for e in data.in_scope_examples() + data.validation_examples
        if e.intent in keys and len(e.text.split()) >= MIN_QUESTION_WORDS
    ]
    positives = random.Random(seed).sample(positives, min(len(positives), MAX_QUESTIONS))
    judged = judge(index, encode, positives, negative_questions(data))
    judged_positives = sum(j.positive for j in judged)
    if judged_positives < MIN_POSITIVES:
        reason = (
            f"{judged_positives} labelled question(s) with a known answer in the knowledge "
            f"base; calibration needs {MIN_POSITIVES}"
        )
        return config.fallback_min_score, {"method": "fallback", "reason": reason}
    threshold = choose_threshold(judged)
    return threshold, {"method": "calibrated", **summarise(judged, threshold)}


def negative_questions(data: TrainingData) -> list[str]:
    """Questions no passage should answer: the data's out-of-scope examples and the
    bundled off-topic list."""
    negatives = [e.text for e in data.out_of_scope_examples()]
    negatives += [e.text for e in data.validation_examples if e.intent == OUT_OF_SCOPE]
    return list(dict.fromkeys(negatives + list(OFF_TOPIC_QUESTIONS)))[:MAX_QUESTIONS]


def calibrate_article_min_score(
    index: PassageIndex,
    encode: Callable[[list[str]], np.ndarray],
    data: TrainingData,
    min_score: float,
    calibration: dict,
) -> float | None:
    """The help articles' threshold: the lowest score at which the negatives are answered by
    an article no more often than `calibration` answers them at `min_score` (at least one
    in MIN_NEGATIVES_ANSWERED), never above `min_score`. None without articles, or
    without enough negatives to tell."""
    if calibration.get("method") != "calibrated":
        return None
    negatives = negative_questions(data)
    if len(negatives) < MIN_NEGATIVES:
        return None
    found = index.search(negatives, encode(negatives), SEARCH_DEPTH)
    scores = sorted(
        (
            max((h.score for h in hits if h.passage.kind == "article"), default=-1.0)
            for hits in found
        ),
        reverse=True,
    )
    if scores[0] < 0:
        return None
    allowed = max(calibration.get("negatives_answered", 0.0), 1 / MIN_NEGATIVES_ANSWERED)
    answered = int(allowed * len(scores))  # the negatives an article may answer
    cut = scores[answered] if answered < len(scores) else -1.0
    return round(min(min_score, cut + 1e-3), 4)


def answer_keys(index: PassageIndex) -> set[str]:
    rows = index.store.db.execute("SELECT DISTINCT key FROM passages WHERE key IS NOT NULL")
    return {row[0] for row in rows}


def judge(
    index: PassageIndex,
    encode: Callable[[list[str]], np.ndarray],
    positives: list[tuple[str, str]],
    negatives: list[str],
) -> list[Judged]:
    """Score and judge the top hit of each question. A positive whose top hit has no
    answer key (a help article) cannot be judged and is left out."""
    texts = [text for text, _ in positives] + negatives
    if not texts:
        return []
    hits = index.search(texts, encode(texts), SEARCH_DEPTH)
    judged = []
    for position, (text, found) in enumerate(zip(texts, hits, strict=True)):
        top = next((h for h in found if not _is_itself(h, text)), None)
        if top is None:
            continue
        if position >= len(positives):
            judged.append(Judged(top.score, False, False))
        elif top.passage.key is not None:
            judged.append(Judged(top.score, top.passage.key == positives[position][1], True))
    return judged


def _is_itself(hit: Hit, text: str) -> bool:
    question = hit.passage.question
    return question is not None and question.casefold().strip() == text.casefold().strip()


def choose_threshold(judged: list[Judged]) -> float:
    """Halfway between the lowest score worth answering and the next one below it; above
    every score when no threshold gains anything (then the bot never answers from
    retrieval, which is what the data says)."""
    ordered = sorted(judged, key=lambda j: -j.score)
    positives = max(sum(j.positive for j in judged), 1)
    negatives = max(len(judged) - positives, 1)
    gains = np.cumsum(
        [
            (1.0 if j.correct else -WRONG_ANSWER_COST) / (positives if j.positive else negatives)
            for j in ordered
        ]
    )
    best = int(np.argmax(gains))
    if gains[best] <= 0:
        return round(ordered[0].score + 1e-3, 4)
    below = ordered[best + 1].score if best + 1 < len(ordered) else ordered[best].score - 0.02
    return round((ordered[best].score + below) / 2, 4)


def summarise(judged: list[Judged], threshold: float) -> dict:
    answered = [j for j in judged if j.score >= threshold]
    positives = [j for j in judged if j.positive]
    negatives = [j for j in judged if not j.positive]
    right = sum(j.correct for j in answered)
    return {
        "positives": len(positives),
        "negatives": len(negatives),
        "wrong_answer_cost": WRONG_ANSWER_COST,
        "precision": round(right / len(answered), 4) if answered else None,
        "positives_answered_right": round(right / len(positives), 4),
        "negatives_answered": round(
            sum(j.score >= threshold for j in negatives) / max(len(negatives), 1), 4
        ),
        "top1_right_without_threshold": round(
            sum(j.correct for j in positives) / len(positives), 4
        ),
    }
