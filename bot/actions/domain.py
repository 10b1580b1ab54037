"""The Rasa `domain` object sent with every action call, built from what the bot knows.

rasa-sdk refuses a call that carries neither a domain nor a digest it has cached (HTTP
449), so the domain always travels with the call. Actions read it, for instance, to list
a form's required slots or to look up a response by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def build_domain(
    intents: Iterable[str] = (),
    responses: Mapping[str, Sequence[Any]] | None = None,
    slots: Mapping[str, Mapping[str, Any]] | Iterable[str] = (),
    actions: Iterable[str] = (),
    forms: Mapping[str, Mapping[str, Any]] | None = None,
    entities: Iterable[str] = (),
) -> dict[str, Any]:
    """A `rasa_sdk.types.DomainDict`. Responses may be Rasa dicts (`{"text": ...}`) or the
    model's `ResponseTemplate`s (`.text`, `.buttons` as (title, payload) pairs)."""
    return {
        "version": "3.1",
        "intents": list(intents),
        "entities": list(entities),
        "slots": _slots(slots),
        "responses": {
            name: [_response(r) for r in items] for name, items in (responses or {}).items()
        },
        "actions": list(actions),
        "forms": {name: dict(form) for name, form in (forms or {}).items()},
    }


def _slots(slots: Mapping[str, Mapping[str, Any]] | Iterable[str]) -> dict[str, dict[str, Any]]:
    if isinstance(slots, Mapping):
        return {name: dict(spec) for name, spec in slots.items()}
    return {name: {"type": "any", "mappings": [{"type": "custom"}]} for name in slots}


def _response(response: Any) -> dict[str, Any]:
    if isinstance(response, Mapping):
        return dict(response)
    rendered: dict[str, Any] = {"text": response.text}
    buttons = getattr(response, "buttons", ())
    if buttons:
        rendered["buttons"] = [{"title": title, "payload": payload} for title, payload in buttons]
    return rendered
