"""Semantic checks over imported training data, each problem located by file and line.

Importers already report rows they could not read; these checks look across rows and
files: conflicting or duplicated examples, thin intents, and responses that can never be
reached or never exist.
"""

from __future__ import annotations

from collections import Counter

from supportbot.config import TrainingConfig
from training.importers.common import quote
from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Example, TrainingData

UNANSWERED_OUTCOMES = ("escalated", "abandoned")
LISTED_INTENTS = 5


def check_training_data(data: TrainingData, config: TrainingConfig, problems: ProblemLog) -> None:
    """Add every semantic problem in `data` to `problems` (errors block training)."""
    _check_empty_texts(data, problems)
    _check_duplicates(data.examples, problems)
    _check_intents(data, config.min_examples_per_intent, problems)


def example_key(text: str) -> str:
    """What makes two examples "the same": case and whitespace do not count."""
    return " ".join(text.split()).casefold()


def _check_empty_texts(data: TrainingData, problems: ProblemLog) -> None:
    for example in (*data.examples, *data.validation_examples):
        if not example.text.strip():
            problems.error(f'empty example text for intent "{example.intent}"', example.source)
    for intent, responses in data.responses.items():
        for response in responses:
            if not response.text.strip():
                problems.error(f'empty response text for intent "{intent}"', response.source)
            for button in response.buttons:
                if not button.title.strip() or not button.payload.strip():
                    problems.error(
                        f'a button of a response for intent "{intent}" has an empty '
                        f"title or payload",
                        response.source,
                    )
    for dialogue in data.dialogues:
        for index, turn in enumerate(dialogue.turns):
            if not turn.text.strip():
                problems.error(
                    f"dialogue {dialogue.id}: turns[{index}].text: empty text", dialogue.source
                )
    for article in data.articles:
        if not article.text.strip():
            problems.error(f'empty text for article "{article.title}"', article.source)


def _check_duplicates(examples: list[Example], problems: ProblemLog) -> None:
    """One error per text found under several intents, one warning per repeated example."""
    groups: dict[str, dict[str, list[Example]]] = {}
    for example in examples:
        if example.text.strip():
            groups.setdefault(example_key(example.text), {}).setdefault(example.intent, []).append(
                example
            )
    for by_intent in groups.values():
        if len(by_intent) > 1:
            _report_conflict(by_intent, problems)
        for copies in by_intent.values():
            if len(copies) > 1:
                _report_duplicate(copies, problems)


def conflicting_dialogue_texts(examples: list[Example]) -> set[str]:
    """Texts (by example_key) that logged dialogues label with several intents and no written
    example settles: "yes" or "thanks" carry whatever the conversation was about. Training
    drops them; validation warns instead of failing."""
    labels: dict[str, set[str]] = {}
    written: set[str] = set()
    for example in examples:
        key = example_key(example.text)
        labels.setdefault(key, set()).add(example.intent)
        if not example.from_dialogue:
            written.add(key)
    return {key for key, intents in labels.items() if len(intents) > 1 and key not in written}


def _report_conflict(by_intent: dict[str, list[Example]], problems: ProblemLog) -> None:
    firsts = [copies[0] for copies in by_intent.values()]
    if all(e.from_dialogue for copies in by_intent.values() for e in copies):
        problems.warning(
            f"example {quote(firsts[0].text)} is labelled with {len(firsts)} intents in "
            "dialogues; it is left out of intent training",
            firsts[1].source,
        )
        return
    listed = [f'"{e.intent}" ({e.source})' for e in firsts[:LISTED_INTENTS]]
    if len(firsts) > LISTED_INTENTS:
        listed.append(f"{len(firsts) - LISTED_INTENTS} more")
    names = ", ".join(listed[:-1]) + f" and {listed[-1]}"
    problems.error(
        f"example {quote(firsts[0].text)} is under {len(firsts)} intents: {names}", firsts[1].source
    )


def _report_duplicate(copies: list[Example], problems: ProblemLog) -> None:
    first = copies[0]
    count = f"; {len(copies)} copies" if len(copies) > 2 else ""
    problems.warning(
        f'duplicate example {quote(first.text)} for intent "{first.intent}" '
        f"(first at {first.source}{count})",
        copies[1].source,
    )


def _check_intents(data: TrainingData, minimum: int, problems: ProblemLog) -> None:
    examples = [e for e in data.examples if e.intent != OUT_OF_SCOPE and e.text.strip()]
    counts = Counter(e.intent for e in examples)
    first_seen = {e.intent: e for e in reversed(examples)}
    in_dialogues = _dialogue_intents(data)
    answered = _intents_answered_in_dialogues(data)
    for intent, count in sorted(counts.items()):
        source = first_seen[intent].source
        if count < minimum:
            problems.warning(
                f'intent "{intent}" has {count} example(s); at least {minimum} are recommended',
                source,
            )
        if not data.responses.get(intent) and intent not in answered:
            problems.warning(
                f'intent "{intent}" has no response (none written, none to learn '
                f"from dialogues); the bot will only classify it",
                source,
            )
    for intent, responses in sorted(data.responses.items()):
        if intent == OUT_OF_SCOPE or counts[intent] or not responses:
            continue
        if intent in in_dialogues:
            problems.warning(
                f'intent "{intent}" has 0 examples: it is only labelled on '
                f"dialogue turns with several intents",
                responses[0].source,
            )
        else:
            problems.error(
                f'response for unknown intent "{intent}": no examples and no '
                f"dialogue turns are labelled with it",
                responses[0].source,
            )


def _dialogue_intents(data: TrainingData) -> set[str]:
    return {intent for d in data.dialogues for t in d.turns for intent in t.intents}


def _intents_answered_in_dialogues(data: TrainingData) -> set[str]:
    """Intents whose replies can be mined: a single-intent customer turn then an agent turn."""
    return {
        turn.intents[0]
        for dialogue in data.dialogues
        if dialogue.outcome not in UNANSWERED_OUTCOMES
        for turn, reply in zip(dialogue.turns, dialogue.turns[1:], strict=False)
        if turn.speaker == "customer" and reply.speaker == "agent" and len(turn.intents) == 1
    }
