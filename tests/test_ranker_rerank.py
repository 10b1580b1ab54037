"""The response ranker's second stage: word-overlap features, the held-out fit that
decides whether it ships, and the ranker re-ordering its best candidates with it."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

from retrieval.ranker import EncodedContext, ResponseRanker
from retrieval.ranker_rerank import FEATURES, Reranker, words
from training.dialogue_pairs import ReplyPair
from training.ranker_eval import selection_task
from training.ranker_rerank_trainer import fit_reranker, reply_idf

NAMES = [
    f"{head}{tail}".title()
    for head in ("ka", "mo", "ri", "tu", "se")
    for tail in ("lan", "dor", "vik", "pet", "zum", "gor", "nix", "bel")
]


def _booking_pairs() -> list[ReplyPair]:
    """Replies name the restaurant the customer asked for: only overlap can tell them apart."""
    return [
        ReplyPair(
            f"[customer] book a table at {name} [agent] For when? [customer] tonight at 7",
            f"Your table at {name} is booked for 7 pm.",
            f"d{i}",
        )
        for i, name in enumerate(NAMES * 3)
    ]


def _identity_reranker(replies: list[str], feature: str) -> Reranker:
    idf, unseen = reply_idf(replies)
    weights = [1.0 if name == feature else 0.0 for name in FEATURES]
    return Reranker(idf, unseen, [0.0] * len(FEATURES), [1.0] * len(FEATURES), weights)


def test_features_count_rare_words_the_context_used_or_never_saw():
    replies = ["Booked at Sushi Zone for 7 pm.", "Booked at Taco Town for 9 pm."] + ["Okay."] * 200
    reranker = _identity_reranker(replies, "fused_score")
    context = "[customer] a table at sushi zone please [agent] When? [customer] at 7"
    rows = reranker.features(context, [words(r) for r in replies[:2]], np.zeros(2))
    shared, unseen, numbers = (
        FEATURES.index(f) for f in ("shared_rare_idf", "unseen_rare_idf", "unseen_numbers")
    )
    assert rows[0, shared] > 0 and rows[1, shared] < rows[0, shared]
    assert rows[1, unseen] > rows[0, unseen]
    assert rows[0, numbers] == 0 and rows[1, numbers] == 1, "9 was never said"


def test_the_fit_ships_a_reranker_only_when_it_beats_the_fused_score_on_held_out_halves():
    pairs = _booking_pairs()
    task = selection_task(pairs, 20, seed=1)
    uninformative = np.random.default_rng(0).normal(size=task.candidates.shape)
    reranker, metrics = fit_reranker(task, uninformative, [p.reply for p in pairs], 1, print)
    assert reranker is not None and metrics["ranker_rerank"] is True
    assert (
        metrics["ranker_rerank_recall_at_1_after"]
        > 0.9
        > metrics["ranker_rerank_recall_at_1_before"]
    )

    perfect = np.zeros(task.candidates.shape)
    perfect[:, 0] = 1.0
    reranker, metrics = fit_reranker(task, perfect, [p.reply for p in pairs], 1, print)
    assert reranker is None and metrics["ranker_rerank"] is False


def test_rank_reorders_the_top_candidates_by_the_reranker(tiny_model):
    ranker = tiny_model.ranker
    texts = [c.text for c in ranker.candidates]
    reranker = dataclasses.replace(
        _identity_reranker(texts + ["Okay."] * 200, "shared_rare_idf"), top_k=len(texts)
    )
    staged = ResponseRanker(
        ranker.encoder, ranker.candidates, ranker.embeddings, ranker.info, reranker
    )
    plain = staged.rank(staged.encode_context(["hello"]))
    counts = Counter(w for text in texts for w in words(text))
    target, rare = next(
        (row, w) for row in plain[1:] for w in sorted(words(texts[row])) if counts[w] == 1
    )
    encoded = staged.context([rare])
    assert isinstance(encoded, EncodedContext) and rare in encoded.text
    assert staged.rank(encoded)[0] == target, "only the target shares a word with the context"
    assert staged.rank(encoded.vector) == ranker.rank(encoded.vector), (
        "a bare vector is not re-ranked"
    )
    scores = staged.score([rare], [texts[target], texts[plain[0]]])
    assert scores[0] > scores[1]
