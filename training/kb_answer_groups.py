"""Knowledge-base answers learned as classes of the intent classifier.

Why: a question/answer CSV often gives one answer many phrasings of its question. Left
to retrieval alone, those questions compete with the bot's intents: the classifier is
asked first, and it either claims them for an intent or, trained with them as out of
scope, rejects some of its own intents' messages. As classes of their own (what Rasa's
response selector does with retrieval intents) the classifier learns both sides of
every boundary. On CLINC150 with 50 intents moved to the knowledge base, their messages
got the right answer 94.5 % of the time instead of 80.4 % (docs/benchmarks.md,
routing).

An answer becomes a class when it has at least `min_examples_per_intent` distinct
questions, the same floor an intent's examples must reach. Fewer questions teach a
class poorly; those stay with retrieval (and with the out-of-scope examples of
training/kb_negatives.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.kb_answers import KB_ANSWERS_FILE, LABEL_PREFIX
from retrieval.ranker_text import reply_key
from training.schema import Article, Example


@dataclass
class AnswerGroup:
    """One answer and the distinct questions it was given for."""

    label: str
    answer: str
    articles: list[Article] = field(default_factory=list)


def answer_groups(
    articles: list[Article], examples: list[Example], min_questions: int
) -> list[AnswerGroup]:
    """The question/answer rows' answers with at least `min_questions` distinct questions,
    each with a class label. A question that is already an intent's example stays the
    intent's, as in training/kb_negatives.py. Examples already labelled with a class (a
    reviewed turn, from the learning loop) are not intents: they join their class."""
    intents = [e for e in examples if not e.intent.startswith(LABEL_PREFIX)]
    labelled = {reply_key(e.text) for e in intents}
    by_answer: dict[str, dict[str, Article]] = {}
    # Grouped on the trimmed text; the group keeps the text exactly as the store holds it,
    # which is what serving looks the answer up by.
    for article in articles:
        key = reply_key(article.question or "")
        if key and key not in labelled:
            by_answer.setdefault(article.text.strip(), {}).setdefault(key, article)
    groups = []
    taken = {e.intent for e in intents}
    for questions in by_answer.values():
        if len(questions) >= min_questions:
            rows = list(questions.values())
            label = _unique_label(rows[0], taken)
            taken.add(label)
            groups.append(AnswerGroup(label, rows[0].text, rows))
    return groups


def group_examples(groups: list[AnswerGroup]) -> list[Example]:
    """Each group's questions as labelled examples of its class."""
    return [Example(a.question or "", g.label, a.source) for g in groups for a in g.articles]


def write_answer_groups(stage: Path, groups: list[AnswerGroup]) -> str:
    """The label -> answer map the runtime reads (retrieval/kb_answers.py), with the
    questions each class was trained on."""
    rows = {
        g.label: {"answer": g.answer, "questions": [a.question for a in g.articles]} for g in groups
    }
    (stage / KB_ANSWERS_FILE).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return KB_ANSWERS_FILE


def _unique_label(article: Article, taken: set[str]) -> str:
    """`kb:` and the answer's title (or its first question) as a slug; a number is added
    when two answers share a title."""
    words = re.findall(r"\w+", (article.title or article.question or "").casefold())
    base = LABEL_PREFIX + ("_".join(words[:8]) or "answer")
    label, number = base, 2
    while label in taken:
        label, number = f"{base}_{number}", number + 1
    return label
