"""Response variants as written in YAML (bot definition and Rasa domain): a string, or
{text, buttons} with buttons {title, payload}. Shared so both formats check them alike."""

from __future__ import annotations

from training.problems import ProblemLog
from training.schema import TARGET_KINDS, Button, ButtonTarget, Response, Source

from .common import describe, normalise_text, warn_unknown_keys
from .yaml_lines import YamlList, YamlMap

RESPONSE_KEYS = ("text", "buttons")
BUTTON_KEYS = ("title", "payload")
"""Required; a button may also name what it does with one of TARGET_KINDS."""


def parse_responses(
    value: object, line: int, where: str, display: str, problems: ProblemLog
) -> list[Response]:
    """Every well-formed variant in `value` (a YAML list); each bad one is an error, skipped.

    `where` is the field path of the list (e.g. `intents.greet.responses`), `line` its line.
    """
    if not isinstance(value, YamlList):
        problems.error(
            f"{where}: expected a list of responses, got {describe(value)}", Source(display, line)
        )
        return []
    responses = []
    for index, item in enumerate(value):
        source = Source(display, value.line_of(index))
        response = _parse_response(item, f"{where}[{index}]", source, problems)
        if response is not None:
            responses.append(response)
    return responses


def _parse_response(
    item: object, where: str, source: Source, problems: ProblemLog
) -> Response | None:
    if isinstance(item, str):
        text = normalise_text(item)
        if not text:
            problems.error(f"{where}: empty response text", source)
            return None
        return Response(text, source=source)
    if not isinstance(item, YamlMap):
        problems.error(f"{where}: expected text or {{text, buttons}}, got {describe(item)}", source)
        return None
    warn_unknown_keys(item, RESPONSE_KEYS, f"{where}.", source, problems)
    text = item.get("text")
    if not isinstance(text, str) or not normalise_text(text):
        problems.error(
            f"{where}.text: empty response text", Source(source.path, item.line_of("text"))
        )
        return None
    buttons = _parse_buttons(item.get("buttons"), item.line_of("buttons"), where, source, problems)
    if buttons is None:
        return None
    return Response(normalise_text(text), buttons, source)


def _parse_buttons(
    value: object, line: int, where: str, source: Source, problems: ProblemLog
) -> tuple[Button, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, YamlList):
        problems.error(
            f"{where}.buttons: expected a list of {{title, payload}}, got {describe(value)}",
            Source(source.path, line),
        )
        return None
    buttons = []
    for index, item in enumerate(value):
        button_source = Source(source.path, value.line_of(index))
        button = _parse_button(item, f"{where}.buttons[{index}]", button_source, problems)
        if button is None:
            return None
        buttons.append(button)
    return tuple(buttons)


def _parse_button(item: object, where: str, source: Source, problems: ProblemLog) -> Button | None:
    if not isinstance(item, YamlMap):
        problems.error(f"{where}: expected {{title, payload}}, got {describe(item)}", source)
        return None
    warn_unknown_keys(item, (*BUTTON_KEYS, *TARGET_KINDS), f"{where}.", source, problems)
    fields = {}
    for key in BUTTON_KEYS:
        value = item.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.error(
                f"{where}.{key}: missing or empty", Source(source.path, item.line_of(key))
            )
            return None
        fields[key] = normalise_text(value)
    target = _parse_target(item, where, source, problems)
    if target is False:
        return None
    return Button(fields["title"], fields["payload"], target or None, source)


def _parse_target(
    item: YamlMap, where: str, source: Source, problems: ProblemLog
) -> ButtonTarget | None | bool:
    """The one target key a button declares, None without one, False when it is bad."""
    named = [kind for kind in TARGET_KINDS if kind in item]
    if not named:
        return None
    if len(named) > 1:
        problems.error(f"{where}: a button does one thing; it names {' and '.join(named)}", source)
        return False
    kind = named[0]
    value = item.get(kind)
    if not isinstance(value, str) or not normalise_text(value):
        problems.error(f"{where}.{kind}: missing or empty", Source(source.path, item.line_of(kind)))
        return False
    return ButtonTarget(kind, normalise_text(value))
