"""Forms: collect the slots an intent needs, one question at a time, with validation.

A form starts when its intent is recognised, asks for the first empty slot, checks each
answer, re-asks with a reason when it does not pass, and answers with the filled `done`
template at the end. "cancel" (or "stop") leaves the form. Values are taken only from
this customer's own answers, never from anyone else's dialogue.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from bot import messages
from bot.channels.base import QuickReply
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import RequestedAction
from bot.moderation.output import fill_template
from supportbot.config.dialogue import FormSpec, SlotSpec

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
CANCEL = re.compile(r"^\s*(?:cancel|stop|never\s*mind|forget it|quit)\s*[.!]*\s*$", re.I)


@dataclass(frozen=True)
class FormReply:
    text: str
    buttons: tuple[QuickReply, ...] = ()
    finished: bool = False
    """True when the form completed or was cancelled: the conversation is free again."""
    action: RequestedAction | None = None
    """The form's custom action, to run now that every slot is filled."""


def extract(slot: SlotSpec, answer: str) -> str | None:
    """The slot's value found in an answer, normalised; None when the answer does not pass."""
    answer = answer.strip()
    return _EXTRACTORS[slot.kind](slot, answer) if answer else None


def _email(slot: SlotSpec, answer: str) -> str | None:
    found = EMAIL.search(answer)
    return found.group(0) if found else None


def _phone(slot: SlotSpec, answer: str) -> str | None:
    for match in phonenumbers.PhoneNumberMatcher(answer, "US"):
        if phonenumbers.is_valid_number(match.number):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _number(slot: SlotSpec, answer: str) -> str | None:
    found = NUMBER.search(answer)
    return found.group(0).replace(",", ".") if found else None


def _choice(slot: SlotSpec, answer: str) -> str | None:
    wanted = answer.casefold().strip(string.punctuation + " ")
    return next((c for c in slot.choices if c.casefold() == wanted), None)


def _pattern(slot: SlotSpec, answer: str) -> str | None:
    return answer if slot.pattern and re.fullmatch(slot.pattern, answer) else None


def _text(slot: SlotSpec, answer: str) -> str | None:
    return answer if len(answer) <= 200 else None


_EXTRACTORS: dict[str, Callable[[SlotSpec, str], str | None]] = {
    "email": _email,
    "phone": _phone,
    "number": _number,
    "choice": _choice,
    "pattern": _pattern,
    "text": _text,
}


def start(form: FormSpec, state: ConversationState) -> FormReply:
    state.active_form = form.intent
    return _next_question(form, state)


def answer(form: FormSpec, state: ConversationState, text: str) -> FormReply:
    """Take the customer's answer to the requested slot and move the form on."""
    if CANCEL.match(text):
        _leave(state, form)
        return FormReply(messages.FORM_CANCELLED, finished=True)
    slot = next((s for s in form.slots if s.name == state.requested_slot), None)
    if slot is None:
        return _next_question(form, state)
    value = extract(slot, text)
    if value is None:
        invalid = slot.invalid or messages.FORM_INVALID[slot.kind]
        return FormReply(f"{invalid} {slot.question}", _buttons(slot))
    state.slots[slot.name] = value
    return _next_question(form, state)


def _next_question(form: FormSpec, state: ConversationState) -> FormReply:
    missing = [slot for slot in form.slots if slot.name not in state.slots]
    if missing:
        state.requested_slot = missing[0].name
        return FormReply(missing[0].question, _buttons(missing[0]))
    text = fill_template(form.done, state.slots, "plain") if form.done else ""
    if form.action is None:
        _leave(state, form)
        return FormReply(text, finished=True)
    names = tuple(slot.name for slot in form.slots)
    action = RequestedAction(form.action, form.intent, state.requested_slot or names[-1], names)
    state.active_form = state.requested_slot = None
    return FormReply(text, finished=True, action=action)


def reask(form: FormSpec, state: ConversationState, slot_name: str) -> FormReply:
    """Open the form again at `slot_name`, e.g. when the form's action rejected the answers."""
    slot = next((s for s in form.slots if s.name == slot_name), form.slots[-1])
    state.active_form, state.requested_slot = form.intent, slot.name
    state.slots.pop(slot.name, None)
    invalid = slot.invalid or messages.FORM_INVALID[slot.kind]
    return FormReply(f"{invalid} {slot.question}", _buttons(slot))


def _leave(state: ConversationState, form: FormSpec) -> None:
    state.active_form = state.requested_slot = None
    for slot in form.slots:
        state.slots.pop(slot.name, None)


def _buttons(slot: SlotSpec) -> tuple[QuickReply, ...]:
    return tuple(QuickReply(choice, choice) for choice in slot.choices)
