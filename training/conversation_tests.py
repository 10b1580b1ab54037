"""End-to-end conversation tests: the file format and the checks, without the runtime.

Modelled on Rasa's end-to-end test stories: a list of conversations, each a list of
steps; a step is what the customer says (`user:`) and what the bot's turn must do:

    conversations:            # Rasa's `stories:` is read too
      - conversation: card never came     # or `story:`
        steps:
          - user: my card has not arrived
            intent: card_arrival
            action: intent_response
            text_contains: "5 working days"
          - user: it's been over two weeks now and still nothing
            intent: card_arrival
          - user: /freeze_card
            text_contains: Freeze
          - user: what time does support open on sundays?
            article: When is support available?
          - user: talk to a human
            handoff: true

`text_not_contains` is the negative check. Every field is checked when the file is read,
with its file and line; a bad file never starts a run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from supportbot.turn_actions import TURN_ACTIONS
from training.importers.common import describe
from training.importers.yaml_lines import YamlList, YamlMap, load_yaml
from training.problems import ProblemLog
from training.schema import Source

TEXT_CHECKS = ("intent", "action", "article", "text_contains", "text_not_contains")
STEP_KEYS = ("user", *TEXT_CHECKS, "handoff")
NAME_KEYS = ("conversation", "story")
LIST_KEYS = ("conversations", "stories")


@dataclass(frozen=True)
class Step:
    user: str
    source: Source
    expect: dict[str, str | bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversation:
    name: str
    steps: tuple[Step, ...]
    source: Source


@dataclass(frozen=True)
class TurnOutcome:
    """What the bot's turn did, as the conversation log records it."""

    intent: str | None
    action: str
    article: str | None
    text: str
    handed_off: bool


def load_conversations(path: Path, display: str, problems: ProblemLog) -> list[Conversation]:
    """Every conversation of the file; each problem is recorded with its line."""
    document = load_yaml(path, display, problems)
    if document is None:
        return []
    key = next((k for k in LIST_KEYS if isinstance(document, YamlMap) and k in document), None)
    if not isinstance(document, YamlMap) or key is None:
        problems.error(
            f"expected a mapping with `conversations:` (or `stories:`), got {describe(document)}",
            Source(display, 1),
        )
        return []
    items = document[key]
    if not isinstance(items, YamlList) or not items:
        problems.error(
            f"{key}: expected a list of conversations, got {describe(items)}",
            Source(display, document.line_of(key)),
        )
        return []
    return [
        conversation
        for index, item in enumerate(items)
        if (conversation := _conversation(item, f"{key}[{index}]", display, items, index, problems))
    ]


def _conversation(
    item: object, where: str, display: str, items: YamlList, index: int, problems: ProblemLog
) -> Conversation | None:
    source = Source(display, items.line_of(index))
    if not isinstance(item, YamlMap):
        problems.error(f"{where}: expected a mapping with steps, got {describe(item)}", source)
        return None
    for key in item:
        if key not in (*NAME_KEYS, "steps"):
            problems.error(f"{where}.{key}: unknown field", Source(display, item.line_of(key)))
    name = next((str(item[k]) for k in NAME_KEYS if k in item), f"conversation {index + 1}")
    steps = item.get("steps")
    if not isinstance(steps, YamlList) or not steps:
        problems.error(f"{where}.steps: expected a list of steps, got {describe(steps)}", source)
        return None
    parsed = [_step(s, f"{where}.steps[{i}]", Source(display, steps.line_of(i)), problems)
              for i, s in enumerate(steps)]  # fmt: skip
    if any(step is None for step in parsed):
        return None
    return Conversation(name, tuple(s for s in parsed if s is not None), source)


def _step(item: object, where: str, source: Source, problems: ProblemLog) -> Step | None:
    if not isinstance(item, YamlMap):
        problems.error(f"{where}: expected a mapping with `user:`, got {describe(item)}", source)
        return None
    ok = True
    for key in item:
        if key not in STEP_KEYS:
            known = ", ".join(STEP_KEYS)
            at = Source(source.path, item.line_of(key))
            problems.error(f"{where}.{key}: unknown field (expected one of {known})", at)
            ok = False
    user = item.get("user")
    if not isinstance(user, str) or not user.strip():
        problems.error(f"{where}.user: missing or empty", source)
        ok = False
    expect: dict[str, str | bool] = {}
    for key in TEXT_CHECKS:
        if key in item:
            value = item[key]
            if not isinstance(value, str) or not value.strip():
                at = Source(source.path, item.line_of(key))
                problems.error(f"{where}.{key}: expected text, got {describe(value)}", at)
                ok = False
            else:
                expect[key] = value.strip()
    if "handoff" in item:
        if not isinstance(item["handoff"], bool):
            at = Source(source.path, item.line_of("handoff"))
            problems.error(f"{where}.handoff: expected true or false", at)
            ok = False
        else:
            expect["handoff"] = item["handoff"]
    action = expect.get("action")
    if isinstance(action, str) and action not in TURN_ACTIONS:
        at = Source(source.path, item.line_of("action"))
        problems.error(f"{where}.action: {action!r} is not a turn action", at)
        ok = False
    return Step(str(user).strip(), source, expect) if ok and isinstance(user, str) else None


def failures(step: Step, outcome: TurnOutcome) -> list[str]:
    """Why the bot's turn does not do what the step expects; empty when it does."""
    reasons = []
    expect = step.expect
    for key in ("intent", "action", "article"):
        wanted = expect.get(key)
        got = getattr(outcome, key)
        if wanted is not None and got != wanted:
            reasons.append(f"{key}: expected {wanted!r}, got {got!r}")
    contains = expect.get("text_contains")
    if isinstance(contains, str) and contains.casefold() not in outcome.text.casefold():
        reasons.append(f"text does not contain {contains!r}: {outcome.text!r}")
    absent = expect.get("text_not_contains")
    if isinstance(absent, str) and absent.casefold() in outcome.text.casefold():
        reasons.append(f"text contains {absent!r}: {outcome.text!r}")
    handoff = expect.get("handoff")
    if handoff is not None and handoff != outcome.handed_off:
        reasons.append(f"handoff: expected {handoff}, got {outcome.handed_off}")
    return reasons
