"""Semantic checks across rows and files, each problem located by file and line."""

from __future__ import annotations

import json

from supportbot.config import TrainingConfig
from training.problems import ProblemLog
from training.schema import (
    OUT_OF_SCOPE,
    Button,
    Dialogue,
    Example,
    Response,
    Source,
    TrainingData,
    Turn,
)
from training.validate import check_training_data

CONFIG = TrainingConfig(min_examples_per_intent=2)


def check(data: TrainingData, config: TrainingConfig = CONFIG) -> list[str]:
    problems = ProblemLog()
    check_training_data(data, config, problems)
    return [str(p) for p in problems.problems]


def ex(text: str, intent: str, line: int, path: str = "bot.yml") -> Example:
    return Example(text, intent, Source(path, line))


def answer(text: str, line: int = 1) -> Response:
    return Response(text, source=Source("bot.yml", line))


def balance_data() -> TrainingData:
    return TrainingData(
        examples=[ex("what's my balance", "balance", 3), ex("how much money", "balance", 4)],
        responses={"balance": [answer("See the Accounts screen.", 6)]},
    )


def test_clean_data_has_no_problems() -> None:
    assert check(balance_data()) == []


def test_duplicate_example_ignoring_case_and_spaces_is_a_warning() -> None:
    data = balance_data()
    data.examples.append(ex("What's  my BALANCE ", "balance", 9, "more.csv"))
    assert check(data) == [
        'more.csv:9: warning: duplicate example "what\'s my balance" for intent "balance" '
        "(first at bot.yml:3)"
    ]


def test_same_example_under_two_intents_is_an_error_naming_both() -> None:
    data = balance_data()
    data.examples += [
        ex("How much money", "transfer", 2, "train.csv"),
        ex("send money", "transfer", 3, "train.csv"),
    ]
    data.responses["transfer"] = [answer("Use Payments.", 12)]
    assert check(data) == [
        'train.csv:2: error: example "how much money" is under 2 intents: '
        '"balance" (bot.yml:4) and "transfer" (train.csv:2)'
    ]


def test_out_of_scope_examples_also_conflict() -> None:
    data = balance_data()
    data.examples.append(ex("how much money", OUT_OF_SCOPE, 20))
    assert check(data) == [
        'bot.yml:20: error: example "how much money" is under 2 intents: "balance" (bot.yml:4) '
        'and "out_of_scope" (bot.yml:20)'
    ]


def test_thin_intent_is_a_warning_at_its_first_example() -> None:
    data = balance_data()
    assert check(data, TrainingConfig(min_examples_per_intent=5)) == [
        'bot.yml:3: warning: intent "balance" has 2 example(s); at least 5 are recommended'
    ]


def test_intent_without_any_response_is_a_warning() -> None:
    data = balance_data()
    data.examples += [ex("send money", "transfer", 7), ex("pay a friend", "transfer", 8)]
    assert check(data) == [
        'bot.yml:7: warning: intent "transfer" has no response (none written, none to learn '
        "from dialogues); the bot will only classify it"
    ]


def test_intent_answered_in_dialogues_needs_no_written_response() -> None:
    data = balance_data()
    turns = (Turn("customer", "send money", ("transfer",)), Turn("agent", "Use Payments."))
    data.dialogues.append(Dialogue("c1", turns, Source("chats.jsonl", 1)))
    data.examples += [
        ex("send money", "transfer", 1, "chats.jsonl"),
        ex("pay a friend", "transfer", 2, "chats.jsonl"),
    ]
    assert check(data) == []


def test_response_for_unknown_intent_is_an_error_at_the_response() -> None:
    data = balance_data()
    data.responses["card_arrival"] = [answer("Cards take 5 days.", 14)]
    assert check(data) == [
        'bot.yml:14: error: response for unknown intent "card_arrival": no examples and no '
        "dialogue turns are labelled with it"
    ]


def test_response_for_intent_only_on_multi_intent_turns_is_a_warning() -> None:
    data = balance_data()
    data.responses["card_arrival"] = [answer("Cards take 5 days.", 14)]
    turns = (Turn("customer", "card late, balance?", ("card_arrival", "balance")),)
    data.dialogues.append(Dialogue("c1", turns, Source("chats.jsonl", 1)))
    assert check(data) == [
        'bot.yml:14: warning: intent "card_arrival" has 0 examples: it is only labelled on '
        "dialogue turns with several intents"
    ]


def test_out_of_scope_response_without_examples_is_fine() -> None:
    data = balance_data()
    data.responses[OUT_OF_SCOPE] = [answer("Sorry, I can only help with banking.", 20)]
    assert check(data) == []


def test_empty_texts_are_errors() -> None:
    data = balance_data()
    data.examples.append(ex("  ", "balance", 5))
    data.responses["balance"].append(Response("", (Button("Open", " "),), Source("bot.yml", 7)))
    assert check(data) == [
        'bot.yml:5: error: empty example text for intent "balance"',
        'bot.yml:7: error: empty response text for intent "balance"',
        'bot.yml:7: error: a button of a response for intent "balance" has an empty title or '
        "payload",
    ]


def test_dialogue_label_clashes_warn_and_are_dropped_from_training(tmp_path):
    from training.loader import load_project
    from training.validate import conflicting_dialogue_texts

    dialogues = [
        {"id": "a", "turns": [{"speaker": "customer", "text": "Yes", "intents": ["BookFlight"]}]},
        {"id": "b", "turns": [{"speaker": "customer", "text": "yes", "intents": ["BookHotel"]}]},
        {
            "id": "c",
            "turns": [{"speaker": "customer", "text": "book a hotel", "intent": "BookHotel"}],
        },
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in dialogues))
    project = load_project(path)
    check_training_data(project.data, TrainingConfig(), project.problems)
    assert project.problems.errors == []
    [warning] = [p for p in project.problems.warnings if "labelled with 2 intents" in p.message]
    assert warning.source.line == 2
    assert conflicting_dialogue_texts(project.data.examples) == {"yes"}


def test_thin_intents_that_cross_validation_confuses_are_named_with_each_other() -> None:
    from retrieval.encoder import TextEncoder
    from training.confusion_check import check_confusable_intents

    # lost_card and missing_card are taught with the same kind of sentence: no model can
    # tell them apart; opening_hours is distinct and is not reported.
    pool = [
        "I lost my card",
        "my card is missing",
        "I can't find my bank card",
        "my debit card is gone",
        "I have misplaced my card",
        "where is my card, I cannot find it",
        "my card has disappeared",
        "I no longer have my card",
        "lost my credit card yesterday",
        "my card went missing",
    ]
    hours = [
        "when are you open",
        "what are your opening hours",
        "are you open on sunday",
        "what time do branches close",
        "opening times please",
    ]
    examples = [
        ex(text, ("lost_card", "missing_card")[i % 2], i + 1) for i, text in enumerate(pool)
    ]
    examples += [ex(text, "opening_hours", 20 + i) for i, text in enumerate(hours)]
    problems = ProblemLog()
    check_confusable_intents(examples, TextEncoder().encode, problems)
    messages = [str(p) for p in problems.problems]
    assert len(messages) == 2, messages
    lost, missing = messages
    assert lost.startswith(
        'bot.yml:1: warning: intent "lost_card" has only 5 examples and is likely to be confused'
    )
    assert '"missing_card" (' in lost and "opening_hours" not in lost
    assert missing.startswith('bot.yml:2: warning: intent "missing_card" has only 5 examples')
    assert '"lost_card" (' in missing
