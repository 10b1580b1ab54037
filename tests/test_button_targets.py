"""Buttons are actions: every payload maps to something, checked at training with the
button's file and line; Rasa's `/intent{"slot": "value"}` payloads are understood."""

from __future__ import annotations

import pytest

from supportbot.cli import main
from supportbot.payloads import Payload, PayloadError, parse_payload
from supportbot.testing import write_file

INTENTS = """\
version: 1
intents:
  card_arrival:
    examples: [where is my card, my card has not come, card still not here]
    responses:
      - text: "Cards arrive within 5 days."
        buttons:
          - title: "Track my card"
            payload: "/track_card"
{declared}
  lost_card:
    examples: [I lost my card, my card is gone, someone stole my card]
    responses:
      - text: "Freeze it in the app."
        buttons:
          - title: "Freeze my card"
            payload: "/freeze_card"
          - title: "Talk to a person"
            payload: "/talk_to_human"
          - title: "Where is it?"
            payload: '/card_arrival{{"card": "visa"}}'
"""


def project(here, declared: str = ""):
    write_file(here, "bot/supportbot.yml", "name: b\ndata: [bot.yml]\n")
    write_file(here, "bot/bot.yml", INTENTS.format(declared=declared))
    return "bot"


def test_a_payload_that_maps_to_nothing_is_an_error_at_its_file_and_line(here, capsys):
    assert main(["data", "validate", project(here)]) == 1
    out = capsys.readouterr().out
    assert (
        'bot/bot.yml:16: error: intents.lost_card.responses[0].buttons[0]: payload "/freeze_card" '
        'maps to nothing: no intent, handoff intent, form or custom action is named "freeze_card"; '
        "say what the button does with intent:, form:, action:, article: or reply: next to it"
    ) in out
    assert "/track_card" in out and "/talk_to_human" not in out and "card_arrival{" not in out


def test_declared_targets_are_checked_and_accepted(here, capsys):
    declared = '            reply: "Open Cards > Track delivery."'
    text = INTENTS.format(declared=declared).replace(
        'payload: "/freeze_card"', 'payload: "/freeze_card"\n            article: "Freezing"'
    )
    write_file(here, "bot/supportbot.yml", "name: b\ndata: [bot.yml]\n")
    write_file(here, "bot/bot.yml", text)
    assert main(["data", "validate", "bot"]) == 1
    out = capsys.readouterr().out
    assert (
        'payload "/freeze_card" names article "Freezing", '
        "which is not a title in the knowledge base"
    ) in out
    assert "/track_card" not in out
    write_file(here, "bot/kb/cards.md", "## Freezing\n\nOpen Cards and tap Freeze.\n")
    write_file(here, "bot/supportbot.yml", "name: b\ndata: [bot.yml, kb]\n")
    assert main(["data", "validate", "bot"]) == 0


def test_a_button_naming_two_targets_is_an_error(here, capsys):
    project(here, '            reply: "Track it."\n            intent: card_arrival')
    assert main(["data", "validate", "bot"]) == 1
    assert "buttons[0]: a button does one thing; it names intent and reply" in (
        capsys.readouterr().out
    )


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/freeze_card", Payload("freeze_card")),
        ('/order_status{"order": "A1", "n": 2}', Payload("order_status", {"order": "A1", "n": 2})),
        ("/kb:gift_cards", Payload("kb:gift_cards")),
        ("freeze my card", None),
        ("/ freeze", None),
    ],
)
def test_rasa_payloads_are_parsed(text, payload):
    assert parse_payload(text) == payload


def test_a_payload_with_broken_slots_says_why():
    with pytest.raises(PayloadError, match="^the slots after the name are not valid JSON: "):
        parse_payload('/order_status{"order" "A1"}')
