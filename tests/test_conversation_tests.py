"""`supportbot test`: conversations replayed through the real dialogue manager against the
tiny trained bot, each turn checked; failures and bad files reported with file and line."""

from __future__ import annotations

from pathlib import Path

from supportbot.cli import main
from supportbot.testing import write_file

SCAFFOLD_CONVERSATIONS = Path(__file__).parents[1] / "training" / "scaffold" / "conversations.yml"


def test_the_scaffold_conversations_pass(tiny_model_dir, capsys):
    assert main(["test", str(SCAFFOLD_CONVERSATIONS), "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().out == "2/2 conversations passed, 4/4 turns passed\n"


def test_a_failing_turn_is_reported_with_its_line_and_reason(here, tiny_model_dir, capsys):
    write_file(
        here,
        "conversations.yml",
        "stories:\n"
        "  - story: wrong expectations\n"
        "    steps:\n"
        "      - user: where is my order?\n"
        "        intent: order_status\n"
        "      - user: talk to a human\n"
        "        handoff: false\n"
        "        text_contains: refund\n",
    )
    assert main(["test", "conversations.yml", "--model", str(tiny_model_dir)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "FAIL conversations.yml:6 'wrong expectations', turn 2: 'talk to a human'"
    assert out[1].startswith("     text does not contain 'refund': ")
    assert out[2] == "     handoff: expected False, got True"
    assert out[3] == "0/1 conversations passed, 1/2 turns passed"


def test_a_bad_file_names_the_file_and_line(here, tiny_model_dir, capsys):
    write_file(
        here,
        "conversations.yml",
        "conversations:\n"
        "  - conversation: typo\n"
        "    steps:\n"
        "      - user: hi\n"
        "        intnet: greet\n"
        "      - user: bye\n"
        "        action: waved\n",
    )
    assert main(["test", "conversations.yml", "--model", str(tiny_model_dir)]) == 2
    assert capsys.readouterr().out.splitlines() == [
        "conversations.yml:5: error: conversations[0].steps[0].intnet: unknown field "
        "(expected one of user, intent, action, article, text_contains, text_not_contains, "
        "handoff)",
        "conversations.yml:7: error: conversations[0].steps[1].action: 'waved' is not a turn "
        "action",
    ]
