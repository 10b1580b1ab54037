"""Knowledge-base questions as out-of-scope examples for the intent classifier.

Why: the policy asks the classifier first and retrieval only for what it rejects. A
classifier that never saw the knowledge base's questions claims many of them for one of
its own intents, confidently, so the right knowledge-base answer is never reached (on
CLINC150 with 50 intents moved to the knowledge base, 62% of their messages were claimed;
docs/benchmarks.md, routing). Shown the questions as "not one of my intents", it learns
where its intents end. A question that is also an intent's example keeps the intent.
"""

from __future__ import annotations

import random

from retrieval.ranker_text import reply_key
from training.schema import OUT_OF_SCOPE, Article, Example

PER_INTENT_CAP = 10
"""Chosen on CLINC150 `val` in the routing setup (docs/benchmarks.md): 3, 10 and uncapped
traded trained-intent accuracy against knowledge-base answers; 10 kept intents >= 95%."""


def knowledge_base_negatives(
    articles: list[Article], examples: list[Example], seed: int = 0
) -> list[Example]:
    """Out-of-scope examples from the question/answer rows' questions, one per distinct
    question, skipping questions that are already labelled examples. At most
    `PER_INTENT_CAP` times an average intent's examples are kept (a seeded sample), so the
    out-of-scope class does not outweigh every intent and reject their own messages."""
    labelled = {reply_key(e.text) for e in examples}
    negatives: dict[str, Example] = {}
    for article in articles:
        if not article.question:
            continue
        key = reply_key(article.question)
        if key and key not in labelled and key not in negatives:
            negatives[key] = Example(article.question, OUT_OF_SCOPE, article.source)
    kept = list(negatives.values())
    intents = {e.intent for e in examples if e.intent != OUT_OF_SCOPE}
    cap = PER_INTENT_CAP * len(examples) // max(len(intents), 1)
    if len(kept) > cap:
        kept = random.Random(seed).sample(kept, cap)
    return kept
