"""The bot definition YAML (`bot.yml`): intents with examples and responses, plus
out-of-scope examples. The format a person writes by hand, so every field is checked."""

from __future__ import annotations

from pathlib import Path

from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Example, Source, TrainingData

from .common import describe, normalise_text, warn_unknown_keys
from .response_items import parse_responses
from .yaml_lines import YamlList, YamlMap, load_yaml

TOP_KEYS = ("version", "intents", "out_of_scope")
INTENT_KEYS = ("examples", "responses")
SUPPORTED_VERSIONS = ("1",)


def load_bot_definition(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Examples and responses from one bot definition file; bad items are errors, skipped."""
    document = load_yaml(path, display, problems)
    data = TrainingData()
    if document is None:
        return data
    if not isinstance(document, YamlMap):
        problems.error(
            f"expected a mapping with `intents:` at the top level, got {describe(document)}",
            Source(display, 1),
        )
        return data
    warn_unknown_keys(document, TOP_KEYS, "", Source(display, 1), problems)
    _check_version(document, display, problems)
    intents = document.get("intents")
    if isinstance(intents, YamlMap):
        for name, spec in intents.items():
            _add_intent(data, name, spec, Source(display, intents.line_of(name)), problems)
    elif intents is not None:
        problems.error(
            f"intents: expected a mapping of intent name to {{examples, responses}}, "
            f"got {describe(intents)}",
            Source(display, document.line_of("intents")),
        )
    if "out_of_scope" in document:
        data.examples += parse_examples(
            document["out_of_scope"],
            document.line_of("out_of_scope"),
            "out_of_scope",
            OUT_OF_SCOPE,
            display,
            problems,
        )
    return data


def parse_examples(
    value: object, line: int, where: str, intent: str, display: str, problems: ProblemLog
) -> list[Example]:
    """A YAML list of utterances as Examples of `intent`, each sourced at its own line."""
    if not isinstance(value, YamlList):
        problems.error(
            f"{where}: expected a list of example texts, got {describe(value)}",
            Source(display, line),
        )
        return []
    examples = []
    for index, item in enumerate(value):
        source = Source(display, value.line_of(index))
        text = normalise_text(item) if isinstance(item, str) else ""
        if not isinstance(item, str):
            problems.error(f"{where}[{index}]: expected text, got {describe(item)}", source)
        elif not text:
            problems.error(f"{where}[{index}]: empty text", source)
        else:
            examples.append(Example(text, intent, source))
    return examples


def _check_version(document: YamlMap, display: str, problems: ProblemLog) -> None:
    version = document.get("version")
    if "version" in document and str(version).strip() not in SUPPORTED_VERSIONS:
        problems.warning(
            f"version: expected 1, got {describe(version)}; reading it as version 1",
            Source(display, document.line_of("version")),
        )


def _add_intent(
    data: TrainingData, name: object, spec: object, source: Source, problems: ProblemLog
) -> None:
    if not isinstance(name, str) or not name.strip():
        problems.error("intents: an intent needs a name", source)
        return
    name = name.strip()
    where = f"intents.{name}"
    if not isinstance(spec, YamlMap):
        problems.error(
            f"{where}: expected a mapping with examples and/or responses, got {describe(spec)}",
            source,
        )
        return
    warn_unknown_keys(spec, INTENT_KEYS, f"{where}.", source, problems)
    if "examples" in spec:
        data.examples += parse_examples(
            spec["examples"],
            spec.line_of("examples"),
            f"{where}.examples",
            name,
            source.path,
            problems,
        )
    if "responses" in spec:
        responses = parse_responses(
            spec["responses"],
            spec.line_of("responses"),
            f"{where}.responses",
            source.path,
            problems,
        )
        if responses:
            data.responses.setdefault(name, []).extend(responses)
