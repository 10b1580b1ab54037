"""Rasa 3.x projects: examples from `nlu.yml`, responses from `domain.yml`.

A response `utter_Y` belongs to intent X when a rule or story in the same folder (or its
`data/` folder, Rasa's layout) has `- intent: X` directly followed by `- action: utter_Y`;
otherwise to intent Y by Rasa's `utter_<intent>` naming convention.
"""

from __future__ import annotations

import re
from pathlib import Path

from training.problems import ProblemLog
from training.schema import Example, Response, Source, TrainingData

from .common import describe, intent_label, normalise_text, warn_unknown_keys
from .response_items import parse_responses
from .yaml_lines import YamlList, YamlMap, load_yaml

ENTITY = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
NLU_TOP_KEYS = ("version", "nlu", "rules", "stories")
NLU_ITEM_KEYS = ("intent", "examples", "metadata")
NLU_SKIPPED_ITEMS = ("synonym", "regex", "lookup")
DOMAIN_TOP_KEYS = (
    "version",
    "intents",
    "entities",
    "slots",
    "forms",
    "actions",
    "responses",
    "session_config",
    "e2e_actions",
    "config",
)
STORY_FILES = ("rules.yml", "rules.yaml", "stories.yml", "stories.yaml")
UTTER = "utter_"


def strip_entities(text: str) -> str:
    """`[Berlin](city)` and `[Berlin]{"entity": "city"}` become `Berlin`."""
    return ENTITY.sub(r"\1", text)


def load_rasa_nlu(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Intent examples from a Rasa NLU file; synonym, regex and lookup items are skipped."""
    data = TrainingData()
    document = load_yaml(path, display, problems)
    if not isinstance(document, YamlMap) or not isinstance(document.get("nlu"), YamlList):
        if document is not None:
            problems.error("expected a list under `nlu:` at the top level", Source(display, 1))
        return data
    warn_unknown_keys(document, NLU_TOP_KEYS, "", Source(display, 1), problems)
    items = document["nlu"]
    for index, item in enumerate(items):
        source = Source(display, items.line_of(index))
        data.examples += _nlu_item_examples(item, f"nlu[{index}]", source, problems)
    return data


def _nlu_item_examples(
    item: object, where: str, source: Source, problems: ProblemLog
) -> list[Example]:
    if not isinstance(item, YamlMap):
        problems.error(
            f"{where}: expected a mapping with intent and examples, got {describe(item)}", source
        )
        return []
    if any(key in item for key in NLU_SKIPPED_ITEMS):
        return []
    warn_unknown_keys(item, NLU_ITEM_KEYS, f"{where}.", source, problems)
    intent = item.get("intent")
    if not isinstance(intent, str) or not intent.strip():
        problems.error(f"{where}.intent: missing intent name", source)
        return []
    intent = intent_label(intent.strip())
    examples = item.get("examples")
    if isinstance(examples, str):
        return _block_examples(
            examples, item.text_line("examples"), intent, where, source, problems
        )
    if isinstance(examples, YamlList):
        return _list_examples(examples, intent, where, source, problems)
    problems.error(
        f'{where}.examples: expected a block of "- example" lines, got {describe(examples)}',
        Source(source.path, item.line_of("examples")),
    )
    return []


def _block_examples(
    block: str, first_line: int, intent: str, where: str, source: Source, problems: ProblemLog
) -> list[Example]:
    examples = []
    for offset, raw in enumerate(block.splitlines()):
        line_source = Source(source.path, first_line + offset)
        stripped = raw.strip()
        if not stripped:
            continue
        if not stripped.startswith("-"):
            problems.error(
                f'{where}.examples: expected "- " before each example, got {describe(stripped)}',
                line_source,
            )
            continue
        example = _example(stripped[1:], intent, f"{where}.examples", line_source, problems)
        if example is not None:
            examples.append(example)
    return examples


def _list_examples(
    items: YamlList, intent: str, where: str, source: Source, problems: ProblemLog
) -> list[Example]:
    examples = []
    for index, item in enumerate(items):
        text = item.get("text") if isinstance(item, YamlMap) else item
        item_source = Source(source.path, items.line_of(index))
        if not isinstance(text, str):
            problems.error(
                f"{where}.examples[{index}]: expected text, got {describe(text)}", item_source
            )
            continue
        example = _example(text, intent, f"{where}.examples[{index}]", item_source, problems)
        if example is not None:
            examples.append(example)
    return examples


def _example(
    raw: str, intent: str, where: str, source: Source, problems: ProblemLog
) -> Example | None:
    text = normalise_text(strip_entities(raw))
    if not text:
        problems.error(f"{where}: empty text", source)
        return None
    return Example(text, intent, source)


def load_rasa_domain(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Responses from a Rasa domain, attached to intents by rules, stories or naming."""
    data = TrainingData()
    document = load_yaml(path, display, problems)
    if not isinstance(document, YamlMap):
        if document is not None:
            problems.error(
                "expected a mapping with `responses:` at the top level", Source(display, 1)
            )
        return data
    warn_unknown_keys(document, DOMAIN_TOP_KEYS, "", Source(display, 1), problems)
    responses = document.get("responses")
    if not isinstance(responses, YamlMap):
        if responses is not None:
            problems.error(
                f"responses: expected a mapping of utter_ names to responses, got "
                f"{describe(responses)}",
                Source(display, document.line_of("responses")),
            )
        return data
    triggers = _story_triggers(path.parent, Path(display).parent, data.files, problems)
    known = _domain_intents(document.get("intents"))
    for name, variants in responses.items():
        source = Source(display, responses.line_of(name))
        parsed = parse_responses(variants, source.line, f"responses.{name}", display, problems)
        _attach(data, str(name), parsed, triggers, known, source, problems)
    return data


def _attach(
    data: TrainingData,
    name: str,
    responses: list[Response],
    triggers: dict[str, list[str]],
    known: set[str] | None,
    source: Source,
    problems: ProblemLog,
) -> None:
    intents = triggers.get(name, [])
    by_name = name.removeprefix(UTTER)
    if not intents and name.startswith(UTTER) and (known is None or by_name in known):
        intents = [by_name]
    if not intents:
        problems.warning(
            f"responses.{name}: no rule or story follows an intent with it and no "
            f"intent is named {by_name!r}; not attached to any intent",
            source,
        )
        return
    if responses:
        for intent in intents:
            data.responses.setdefault(intent_label(intent), []).extend(responses)


def _domain_intents(value: object) -> set[str] | None:
    """Intent names listed in the domain (plain or `- name: {...}`), None if not listed."""
    if not isinstance(value, YamlList):
        return None
    names = set()
    for item in value:
        if isinstance(item, str):
            names.add(item.strip())
        elif isinstance(item, YamlMap):
            names.update(str(key).strip() for key in item)
    return names


def _story_triggers(
    folder: Path, display_folder: Path, files: list[str], problems: ProblemLog
) -> dict[str, list[str]]:
    """utter_ action -> intents it directly follows, from rules and stories files nearby."""
    triggers: dict[str, list[str]] = {}
    for sub in (Path(), Path("data")):
        for name in STORY_FILES:
            if not (folder / sub / name).is_file():
                continue
            display = str(display_folder / sub / name)
            document = load_yaml(folder / sub / name, display, problems)
            files.append(display)
            if isinstance(document, YamlMap):
                for key in ("rules", "stories"):
                    _collect_triggers(document.get(key), triggers)
    return triggers


def _collect_triggers(flows: object, triggers: dict[str, list[str]]) -> None:
    if not isinstance(flows, YamlList):
        return
    for flow in flows:
        steps = flow.get("steps") if isinstance(flow, YamlMap) else None
        if not isinstance(steps, YamlList):
            continue
        previous: list[str] = []
        for step in steps:
            if not isinstance(step, YamlMap):
                previous = []
            elif isinstance(step.get("action"), str) and step["action"].startswith(UTTER):
                known = triggers.setdefault(step["action"], [])
                known += [intent for intent in previous if intent not in known]
                previous = []
            else:
                previous = _step_intents(step)


def _step_intents(step: YamlMap) -> list[str]:
    if isinstance(step.get("intent"), str):
        return [step["intent"].strip()]
    alternatives = step.get("or")
    if isinstance(alternatives, YamlList):
        return [
            a["intent"].strip()
            for a in alternatives
            if isinstance(a, YamlMap) and isinstance(a.get("intent"), str)
        ]
    return []
