"""Historical dialogues: JSONL (optionally gzipped), one conversation per line.

Customer turns labelled with exactly one intent also become intent Examples, so a bot can
be trained from past conversations alone. A malformed conversation is skipped whole, with
one error per fault naming the field (`turns[2].speaker: ...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from training.problems import ProblemLog
from training.schema import OUTCOMES, SPEAKERS, Dialogue, Example, Source, TrainingData, Turn

from .common import describe, intent_label, iter_json_lines, normalise_text, warn_unknown_keys

DIALOGUE_KEYS = ("id", "turns", "outcome", "services", "metadata")
TURN_KEYS = ("speaker", "text", "intent", "intents", "metadata")


def load_dialogues(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Dialogues, and Examples from their single-intent customer turns."""
    data = TrainingData()
    for dialogue in iter_dialogues(path, display, problems):
        data.dialogues.append(dialogue)
        data.examples += dialogue_examples(dialogue)
    return data


def iter_dialogues(path: Path, display: str, problems: ProblemLog) -> Iterator[Dialogue]:
    """Stream well-formed dialogues; each bad line is recorded and skipped."""
    for line, value in iter_json_lines(path, display, problems):
        dialogue = parse_dialogue(value, Source(display, line), problems)
        if dialogue is not None:
            yield dialogue


def dialogue_examples(dialogue: Dialogue) -> list[Example]:
    """Customer turns with exactly one intent, as Examples sourced at the dialogue's line."""
    return [
        Example(turn.text, intent_label(turn.intents[0]), dialogue.source, from_dialogue=True)
        for turn in dialogue.turns
        if turn.speaker == "customer" and len(turn.intents) == 1
    ]


def parse_dialogue(value: object, source: Source, problems: ProblemLog) -> Dialogue | None:
    """One conversation object, or None after recording every fault in it."""
    if not isinstance(value, dict):
        problems.error(f'expected a JSON object with "turns", got {describe(value)}', source)
        return None
    errors: list[str] = []
    warn_unknown_keys(value, DIALOGUE_KEYS, "", source, problems)
    dialogue_id = value.get("id", f"{source.path}:{source.line}")
    if not isinstance(dialogue_id, str | int) or isinstance(dialogue_id, bool):
        errors.append(f"id: expected a string, got {describe(dialogue_id)}")
    outcome = value.get("outcome")
    if outcome is not None and outcome not in OUTCOMES:
        errors.append(f"outcome: expected one of {', '.join(OUTCOMES)}, got {describe(outcome)}")
    turns = _parse_turns(value.get("turns"), errors, source, problems)
    for message in errors:
        problems.error(message, source)
    if errors or turns is None:
        return None
    return Dialogue(str(dialogue_id), turns, source, outcome)


def _parse_turns(
    value: object, errors: list[str], source: Source, problems: ProblemLog
) -> tuple[Turn, ...] | None:
    if not isinstance(value, list) or not value:
        errors.append(f"turns: expected a non-empty list of turns, got {describe(value)}")
        return None
    turns = []
    for index, item in enumerate(value):
        turn = _parse_turn(item, f"turns[{index}]", errors, source, problems)
        if turn is not None:
            turns.append(turn)
    return tuple(turns)


def _parse_turn(
    item: object, where: str, errors: list[str], source: Source, problems: ProblemLog
) -> Turn | None:
    if not isinstance(item, dict):
        errors.append(f"{where}: expected an object with speaker and text, got {describe(item)}")
        return None
    warn_unknown_keys(item, TURN_KEYS, f"{where}.", source, problems)
    before = len(errors)
    speaker = item.get("speaker")
    if speaker not in SPEAKERS:
        errors.append(f'{where}.speaker: expected "customer" or "agent", got {describe(speaker)}')
    text = item.get("text")
    if not isinstance(text, str):
        errors.append(f"{where}.text: expected a string, got {describe(text)}")
    elif not normalise_text(text):
        errors.append(f"{where}.text: empty text")
    intents = _parse_intents(item, where, errors)
    if len(errors) > before:
        return None
    if intents and speaker == "agent":
        problems.warning(f"{where}: intents on an agent turn are ignored", source)
        intents = ()
    return Turn(speaker, normalise_text(text), intents)


def _parse_intents(item: dict, where: str, errors: list[str]) -> tuple[str, ...]:
    if "intent" in item and "intents" in item:
        errors.append(f'{where}: give "intent" or "intents", not both')
        return ()
    if "intent" in item:
        value, field = [item["intent"]], f"{where}.intent"
        if item["intent"] is None:
            return ()
    else:
        value, field = item.get("intents", []), f"{where}.intents"
        if not isinstance(value, list):
            errors.append(f"{field}: expected a list of intent names, got {describe(value)}")
            return ()
    names = []
    for name in value:
        if not isinstance(name, str) or not name.strip():
            errors.append(f"{field}: expected an intent name, got {describe(name)}")
            return ()
        names.append(name.strip())
    return tuple(dict.fromkeys(names))
