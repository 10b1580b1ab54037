"""Knowledge-base answers learned as intent classes: grouping, training, serving."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from bot.channels.base import InboundMessage
from bot.dialogue.stages.policy import ResponsePolicy
from bot.dialogue.turn import Turn
from retrieval.bot_model import Analysis, BotModel
from retrieval.kb_answers import KbAnswers
from retrieval.kb_store import KnowledgeStore
from retrieval.passage_memory import PassageMemory
from supportbot.config import TrainingConfig
from supportbot.errors import ModelError
from supportbot.testing import write_file
from training.kb_answer_groups import answer_groups, group_examples
from training.kb_manager import add_documents, remove_documents
from training.scaffold import scaffold_project
from training.schema import OUT_OF_SCOPE, Article, Example, Source, TrainingData
from training.train import _knowledge_base_classes, train_model

GIFT_ANSWER = "Gift cards are sold in any amount from 10 to 500 euros and never expire."
GIFT_QUESTIONS = [
    "Can I buy a gift card?",
    "do you sell gift cards",
    "How do I buy a gift voucher for a friend?",
    "Where can I get a gift card",
    "Can I give someone a gift card as a present?",
    "Are gift cards available in your shop?",
]
FAQ = "question,answer,title\n" + "".join(
    f'"{q}","{GIFT_ANSWER}",Gift cards\n' for q in GIFT_QUESTIONS
)
FAQ += '"Do you ship to Canada?","Yes, we ship to Canada in 5 to 8 days.",Shipping abroad\n'


def _article(question: str, answer: str, title: str = "FAQ", line: int = 2) -> Article:
    return Article(title, answer, Source("kb/faq.csv", line), question=question)


def test_an_answer_with_enough_distinct_questions_becomes_one_class():
    articles = [_article(q, "Yes.", "Gift cards", n) for n, q in enumerate(GIFT_QUESTIONS[:3])]
    articles += [
        _article("can I buy a gift card", "Yes.", "Gift cards", 9),  # the same question again
        _article("Do you ship to Canada?", "No.", "Shipping", 10),  # too few questions
    ]
    [group] = answer_groups(articles, [], min_questions=3)
    assert (group.label, group.answer) == ("kb:gift_cards", "Yes.")
    examples = group_examples([group])
    assert [(e.text, e.intent, str(e.source)) for e in examples] == [
        ("Can I buy a gift card?", "kb:gift_cards", "kb/faq.csv:0"),
        ("do you sell gift cards", "kb:gift_cards", "kb/faq.csv:1"),
        ("How do I buy a gift voucher for a friend?", "kb:gift_cards", "kb/faq.csv:2"),
    ]
    assert answer_groups(articles, [], min_questions=4) == []


def test_the_class_keeps_the_answer_exactly_as_the_store_holds_it():
    articles = [_article("a b", "Yes. "), _article("c d", "Yes.")]
    [group] = answer_groups(articles, [], min_questions=2)
    assert group.answer == "Yes. "  # what the first row's passage stores, looked up by


def test_intent_examples_keep_their_intent_and_labels_stay_unique():
    examples = [Example("do you sell gift cards", "gifts", Source("bot.yml", 3))]
    articles = [_article(q, "Yes.", "Gift cards") for q in GIFT_QUESTIONS[:3]]
    articles += [_article(q, "No.", "Gift cards") for q in ("a b", "c d")]
    groups = answer_groups(articles, examples, min_questions=2)
    assert [(g.label, g.answer, len(g.articles)) for g in groups] == [
        ("kb:gift_cards", "Yes.", 2),
        ("kb:gift_cards_2", "No.", 2),
    ]


def test_a_reviewed_turn_labelled_with_a_class_joins_the_class():
    reviewed = [Example("gift card please", "kb:gift_cards", Source("data/reviewed.csv", 2))]
    articles = [_article(q, "Yes.", "Gift cards") for q in GIFT_QUESTIONS[:2]]
    [group] = answer_groups(articles, reviewed, min_questions=2)
    assert group.label == "kb:gift_cards"


def test_the_classes_can_be_switched_off():
    data = TrainingData(
        examples=[Example("hi", "greet", Source("bot.yml", 1))],
        articles=[_article(q, "Yes.", "Gift cards") for q in GIFT_QUESTIONS[:2]],
    )
    off = TrainingConfig(kb_answers_as_intents=False, min_examples_per_intent=2)
    assert _knowledge_base_classes(data, off, print) == ([], data.examples)
    on = TrainingConfig(min_examples_per_intent=2)
    groups, examples = _knowledge_base_classes(data, on, print)
    assert [g.label for g in groups] == ["kb:gift_cards"] and len(examples) == 3


def test_an_unreadable_classes_file_is_a_model_error_naming_it(tmp_path: Path):
    path = write_file(tmp_path, "kb_answers.json", '{"kb:x": {"answer": "A"}}')
    with pytest.raises(ModelError, match=f"{path}: unreadable knowledge-base classes"):
        KbAnswers.load(path)


@pytest.fixture(scope="module")
def faq_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project with a question/answer file, trained once (no ranker: faster)."""
    root = tmp_path_factory.mktemp("kb-classes")
    project = root / "project"
    scaffold_project(project)
    write_file(project / "data" / "kb", "faq.csv", FAQ)
    config = project / "supportbot.yml"
    config.write_text(config.read_text() + "  ranker_minutes: 0\n", encoding="utf-8")
    train_model(project, root / "model", progress=lambda line: None)
    return root / "model"


def test_training_writes_the_classes_beside_the_intents(faq_model_dir: Path):
    model = BotModel.load(faq_model_dir)
    assert "kb:gift_cards" in model.manifest.labels
    assert model.manifest.files["kb_answers.json"]
    assert model.manifest.metrics["kb_answer_classes"] == 1
    assert model.kb_answers.answers == {"kb:gift_cards": GIFT_ANSWER}
    assert "kb:gift_cards" not in model.responses
    saved = json.loads((faq_model_dir / "kb_answers.json").read_text())
    assert saved["kb:gift_cards"]["questions"] == GIFT_QUESTIONS


async def test_the_class_is_answered_from_the_live_knowledge_base(faq_model_dir: Path):
    model = BotModel.load(faq_model_dir)
    turn = await respond(model, "could I buy a gift card for my sister")
    assert turn.analysis.prediction.intent == "kb:gift_cards"
    assert [r.text for r in turn.dispatcher.replies] == [GIFT_ANSWER]
    assert turn.action == "retrieval"


def _copy_with_faq_name(model_dir: Path, tmp_path: Path) -> tuple[Path, str]:
    """A private copy of the model, and the name its knowledge base gives the FAQ file."""
    copy_dir = Path(shutil.copytree(model_dir, tmp_path / "model"))
    store = KnowledgeStore(copy_dir, readonly=True)
    [faq] = [d.name for d in store.documents() if d.name.endswith("faq.csv")]
    store.close()
    return copy_dir, faq


async def test_a_removed_answer_is_not_given_from_the_models_memory(
    faq_model_dir: Path, tmp_path: Path
):
    model_dir, faq = _copy_with_faq_name(faq_model_dir, tmp_path)
    remove_documents(model_dir, [faq])
    model = BotModel.load(model_dir)
    turn = await respond(model, "could I buy a gift card for my sister")
    assert turn.analysis.prediction.intent == "kb:gift_cards"
    assert turn.analysis.kb_answer is None
    assert GIFT_ANSWER not in [r.text for r in turn.dispatcher.replies]


async def test_an_edited_answer_is_given_for_its_questions_before_retraining(
    faq_model_dir: Path, tmp_path: Path
):
    model_dir, faq = _copy_with_faq_name(faq_model_dir, tmp_path)
    edited = FAQ.replace(GIFT_ANSWER, "Gift cards are no longer sold.")
    add_documents(model_dir, [write_file(tmp_path, "edited.csv", edited)], name=faq)
    model = BotModel.load(model_dir)
    turn = await respond(model, "Can I buy a gift card?")
    assert turn.analysis.kb_answer is None
    assert [r.text for r in turn.dispatcher.replies] == ["Gift cards are no longer sold."]


async def test_retrieval_leaves_questions_the_classifier_learned_to_it(faq_model_dir: Path):
    """Told the message is out of scope, the bot does not answer it from the very rows the
    classifier learned; a model without classes would."""
    model = BotModel.load(faq_model_dir)
    text = "Can I buy a gift card?"
    [found] = model.analyse([text])
    assert found.hits[0].passage.answer == GIFT_ANSWER
    rejected = Analysis(
        dataclasses.replace(found.prediction, intent=OUT_OF_SCOPE, out_of_scope=True), found.hits
    )
    turn = await respond(model, text, rejected)
    assert turn.dispatcher.replies and GIFT_ANSWER not in [r.text for r in turn.dispatcher.replies]
    without_classes = copy.copy(model)
    without_classes.kb_answers = None
    turn = await respond(without_classes, text, rejected)
    assert [r.text for r in turn.dispatcher.replies] == [GIFT_ANSWER]


async def test_a_close_call_between_an_intent_and_a_class_offers_both(
    faq_model_dir: Path, tmp_path: Path
):
    model = BotModel.load(faq_model_dir)
    text = "gift card or my order?"
    [found] = model.analyse([text])
    close_call = dataclasses.replace(
        found.prediction,
        intent="kb:gift_cards",
        ambiguous=True,
        out_of_scope=False,
        ranking=[("kb:gift_cards", 0.46), ("order_status", 0.44), ("return_item", 0.05)],
    )
    turn = await respond(model, text, Analysis(close_call, found.hits))
    assert turn.action == "clarify"
    buttons = [(b.title, b.payload) for b in turn.dispatcher.replies[0].buttons]
    assert buttons[:2] == [("Gift cards", "/kb:gift_cards"), ("Order status", "/order_status")]

    turn = await respond(model, "/kb:gift_cards")
    assert (turn.action, [r.text for r in turn.dispatcher.replies]) == ("retrieval", [GIFT_ANSWER])

    model_dir, faq = _copy_with_faq_name(faq_model_dir, tmp_path)
    remove_documents(model_dir, [faq])
    turn = await respond(BotModel.load(model_dir), "/kb:gift_cards")
    assert turn.action == "fallback"
    assert GIFT_ANSWER not in [r.text for r in turn.dispatcher.replies]


def test_the_search_is_left_out_only_where_the_prediction_settles_the_reply(
    faq_model_dir: Path, tmp_path: Path
):
    texts = [
        "where is my order?",  # an intent with responses
        "could I buy a gift card for my sister",  # a class whose answer is in the store
        "what is the boiling point of tungsten",  # out of scope
    ]
    model = BotModel.load(faq_model_dir)
    lazy, full = model.analyse(texts, [False] * 3), model.analyse(texts)
    assert [a.searched for a in lazy] == [False, False, True]
    assert lazy[0].hits == [] and full[0].hits and all(a.searched for a in full)
    assert [h.passage_id for h in lazy[2].hits] == [h.passage_id for h in full[2].hits]
    assert model.analyse(texts, [True, False, False])[0].searched

    # Removed while the model serves, and no search has run since: not given all the same.
    model_dir, faq = _copy_with_faq_name(faq_model_dir, tmp_path)
    serving = BotModel.load(model_dir)
    assert serving.analyse(texts[1:2], [False])[0].kb_answer is not None
    remove_documents(model_dir, [faq])
    [gift] = serving.analyse(texts[1:2], [False])
    assert gift.kb_answer is None and gift.searched
    assert serving.kb_passage("kb:gift_cards") is None


async def respond(model: BotModel, text: str, analysis: Analysis | None = None) -> Turn:
    """One turn through the policy, with the model's own analysis unless one is given."""
    turn = Turn(InboundMessage("u1", text, "rest", {}), text)
    turn.analysis = analysis or model.analyse([text])[0]

    async def done() -> None:
        return None

    await ResponsePolicy(model)(turn, done)
    return turn


def test_memory_and_sqlite_find_the_same_passage_by_its_answer(faq_model_dir: Path):
    store = KnowledgeStore(faq_model_dir, readonly=True)
    try:
        memory = PassageMemory.load(store)
        for answer in (GIFT_ANSWER, "Yes, we ship to Canada in 5 to 8 days."):
            found = store.passage_with_answer(answer)
            assert found["answer"] == answer and memory.passage_with_answer(answer) == found
        assert store.passage_with_answer("no such answer") is None
        assert memory.passage_with_answer("no such answer") is None
    finally:
        store.close()
