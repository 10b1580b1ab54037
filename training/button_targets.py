"""Every quick reply maps to something the bot does: checked at training, written beside
the responses for the runtime.

A button's payload (`/freeze_card`, Rasa's `/intent{"slot": "value"}`) either names what
it does, an intent, a handoff intent, a form's intent or an intent mapped to a custom
action, or says so next to it in the bot definition (`intent:`, `form:`, `action:`,
`article:` or `reply:`). A payload that maps to nothing is a training error at the
button's file and line, not a fallback a customer meets at run time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from supportbot.config import BotConfig
from supportbot.payloads import PayloadError, parse_payload
from training.problems import ProblemLog
from training.schema import Button, ButtonTarget, Source, TrainingData

KB_CLASS_PREFIX = "kb:"
CONFIG_SOURCE = Source("supportbot.yml")


@dataclass(frozen=True)
class _Known:
    """The names a payload may resolve to in this project."""

    intents: frozenset[str]
    handoff: frozenset[str]
    forms: frozenset[str]
    mapped_to_actions: frozenset[str]
    has_actions: bool
    articles: frozenset[str]

    def says(self, name: str) -> bool:
        return (
            name in self.intents
            or name in self.handoff
            or name in self.forms
            or name in self.mapped_to_actions
            or name.startswith(KB_CLASS_PREFIX)
        )


def check_button_targets(data: TrainingData, config: BotConfig, problems: ProblemLog) -> None:
    """An error per button (and `dialogue.menu` item) whose payload is malformed, maps to
    nothing, or is declared to do two different things. A payload declared once does the
    same from every button that carries it."""
    buttons = list(_buttons(data, config))
    declared: dict[str, tuple[ButtonTarget, Source | None]] = {}
    for button, where, source in buttons:
        name = _payload_name(button, where, source, problems)
        if name is None or button.target is None:
            continue
        earlier = declared.setdefault(name, (button.target, source))
        if earlier[0] != button.target:
            first = f" (first at {earlier[1]})" if earlier[1] else ""
            problems.error(
                f'{where}: payload "/{name}" is declared to do two different things{first}',
                source or CONFIG_SOURCE,
            )
    known = _known_names(data, config)
    for button, where, source in buttons:
        name = _payload_name(button, where, source, None)
        if name is None:
            continue
        target = button.target if button.target is not None else declared.get(name, (None,))[0]
        problem = _target_problem(target, name, known)
        if problem:
            problems.error(
                f'{where}: payload "{button.payload}" {problem}', source or CONFIG_SOURCE
            )


def _buttons(data: TrainingData, config: BotConfig) -> Iterator[tuple[Button, str, Source | None]]:
    for intent, responses in data.responses.items():
        for index, response in enumerate(responses):
            for number, button in enumerate(response.buttons):
                where = f"intents.{intent}.responses[{index}].buttons[{number}]"
                yield button, where, button.source or response.source
    for number, item in enumerate(config.dialogue.menu):
        yield Button(item.title, item.payload), f"dialogue.menu[{number}]", None


def _payload_name(
    button: Button, where: str, source: Source | None, problems: ProblemLog | None
) -> str | None:
    """The payload's name; a malformed payload is reported (once: `problems` None after)."""
    at = source or CONFIG_SOURCE
    try:
        payload = parse_payload(button.payload)
    except PayloadError as exc:
        if problems is not None:
            problems.error(f'{where}.payload "{button.payload}": {exc}', at)
        return None
    if payload is None and problems is not None:
        problems.error(
            f'{where}.payload "{button.payload}": a payload starts with "/" and a name, '
            f'like "/freeze_card" or "/freeze_card{{"card": "visa"}}"',
            at,
        )
    return payload.name if payload else None


def _known_names(data: TrainingData, config: BotConfig) -> _Known:
    actions = config.actions
    return _Known(
        intents=frozenset({*data.intents, *data.responses}),
        handoff=frozenset(config.dialogue.handoff.intents),
        forms=frozenset(form.intent for form in config.dialogue.forms),
        mapped_to_actions=frozenset(actions.intents) if actions else frozenset(),
        has_actions=actions is not None,
        articles=frozenset(article.title for article in data.articles),
    )


def _target_problem(target: ButtonTarget | None, name: str, known: _Known) -> str | None:
    """Why the button does nothing, or None when it does something."""
    if target is None:
        if known.says(name):
            return None
        return (
            "maps to nothing: no intent, handoff intent, form or custom action is named "
            f'"{name}"; say what the button does with intent:, form:, action:, article: '
            "or reply: next to it"
        )
    kind, value = target.kind, target.value
    if kind == "intent" and value not in known.intents and value not in known.handoff:
        return f'names intent "{value}", which has no examples or responses'
    if kind == "form" and value not in known.forms:
        return f'names form "{value}", but no form in dialogue.forms has that intent'
    if kind == "action" and not known.has_actions:
        return f'names custom action "{value}", but the config has no `actions:` section'
    if kind == "article" and value not in known.articles:
        return f'names article "{value}", which is not a title in the knowledge base'
    return None


def target_json(button: Button, data: TrainingData) -> dict | None:
    """What responses.json records for the runtime: the target, with an article's text
    and source resolved (the runtime answers a click without a search)."""
    target = button.target
    if target is None:
        return None
    if target.kind != "article":
        return {"kind": target.kind, "value": target.value}
    article = next(a for a in data.articles if a.title == target.value)
    return {"kind": "article", "value": target.value, "text": article.text, "url": article.url}
