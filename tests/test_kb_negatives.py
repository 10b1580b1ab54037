"""Knowledge-base questions become out-of-scope examples for the intent classifier."""

from training.kb_negatives import knowledge_base_negatives
from training.schema import OUT_OF_SCOPE, Article, Example, Source


def _article(question: str | None, line: int) -> Article:
    return Article("Fees", "We charge no fee.", Source("kb/faq.csv", line), question=question)


def test_each_distinct_question_is_one_out_of_scope_example_with_its_source():
    examples = [Example("where is my parcel", "order_status", Source("bot.yml", 3))]
    articles = [
        _article("Do you charge a fee?", 2),
        _article("do you charge a fee", 3),  # the same question, spelled differently
        _article(None, 4),  # an article passage, not a question
        _article("Where is my parcel?", 5),  # an intent's example keeps its intent
        _article("Can I pay in euros?", 6),
    ]
    negatives = knowledge_base_negatives(articles, examples)
    assert [(n.text, n.intent, str(n.source)) for n in negatives] == [
        ("Do you charge a fee?", OUT_OF_SCOPE, "kb/faq.csv:2"),
        ("Can I pay in euros?", OUT_OF_SCOPE, "kb/faq.csv:6"),
    ]
