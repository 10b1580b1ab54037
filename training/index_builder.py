"""Builds the retrieval index from knowledge-base articles and resolved dialogue pairs."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np

from retrieval.index import Passage, PassageIndex
from training.schema import Dialogue, TrainingData

MIN_QUESTION_WORDS = 3
UNUSABLE_OUTCOMES = {"escalated", "abandoned"}


def article_passages(data: TrainingData) -> list[Passage]:
    passages = []
    for article in data.articles:
        kind = "qa" if article.question else "article"
        passages.append(
            Passage(
                kind,
                article.title,
                article.text,
                str(article.source),
                article.question,
                article.url,
            )
        )
    return passages


def dialogue_pairs(dialogues: list[Dialogue]) -> list[Passage]:
    """Customer question -> the agent's next reply, from dialogues not escalated or abandoned.

    Short turns ("hi", "thanks") are skipped: they carry no question to match against.
    Identical pairs are kept once.
    """
    seen: set[tuple[str, str]] = set()
    passages = []
    for dialogue in dialogues:
        if dialogue.outcome in UNUSABLE_OUTCOMES:
            continue
        for turn, reply in pairwise(dialogue.turns):
            if turn.speaker != "customer" or reply.speaker != "agent":
                continue
            if len(turn.text.split()) < MIN_QUESTION_WORDS:
                continue
            key = (turn.text.casefold(), reply.text)
            if key in seen:
                continue
            seen.add(key)
            source = f"{dialogue.source} (dialogue {dialogue.id})"
            passages.append(Passage("qa", turn.text, reply.text, source, question=turn.text))
    return passages


def build_passage_index(
    data: TrainingData,
    encode: Callable[[list[str]], np.ndarray],
    include_dialogue_pairs: bool,
) -> PassageIndex | None:
    """None when there is nothing to retrieve from (a classifier-only bot)."""
    passages = article_passages(data)
    if include_dialogue_pairs:
        passages += dialogue_pairs(data.dialogues)
    if not passages:
        return None
    return PassageIndex.build(encode, passages)
