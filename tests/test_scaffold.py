"""`supportbot init`: the scaffolded project is complete, valid, and never overwrites anything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from supportbot.config import load_config
from supportbot.errors import SupportbotError
from training.scaffold import scaffold_project
from training.schema import OUTCOMES, SPEAKERS

EXPECTED = {
    "supportbot.yml",
    "conversations.yml",
    "data/bot.yml",
    "data/dialogues.jsonl",
    "data/kb/shop-help.md",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "parent" / "shop"
    scaffold_project(dest)
    return dest


def test_writes_the_template_files_and_returns_them(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "shop"
    written = scaffold_project(dest)
    assert {p.relative_to(dest).as_posix() for p in written} == EXPECTED
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)


def test_config_validates(project: Path) -> None:
    config = load_config(project / "supportbot.yml")
    assert config.data == ["data"]
    assert config.training.seed == 42


def test_every_intent_has_enough_examples_and_a_response(project: Path) -> None:
    bot = yaml.safe_load((project / "data" / "bot.yml").read_text(encoding="utf-8"))
    assert set(bot) <= {"version", "intents", "out_of_scope"}
    assert len(bot["intents"]) == 8
    for name, intent in bot["intents"].items():
        assert set(intent) <= {"examples", "responses"}, name
        assert len(set(intent["examples"])) >= 12, name
        assert len(intent["responses"]) >= 1, name
    assert len(bot["out_of_scope"]) >= 10


def test_dialogues_follow_the_contract(project: Path) -> None:
    bot = yaml.safe_load((project / "data" / "bot.yml").read_text(encoding="utf-8"))
    lines = (project / "data" / "dialogues.jsonl").read_text(encoding="utf-8").splitlines()
    assert 10 <= len(lines) <= 20
    ids = set()
    for line in lines:
        dialogue = json.loads(line)
        assert set(dialogue) <= {"id", "turns", "outcome"}
        ids.add(dialogue["id"])
        assert dialogue.get("outcome", "resolved") in OUTCOMES
        for turn in dialogue["turns"]:
            assert set(turn) <= {"speaker", "text", "intent"}
            assert turn["speaker"] in SPEAKERS and turn["text"].strip()
            if "intent" in turn:
                assert turn["speaker"] == "customer"
                assert turn["intent"] in bot["intents"]
    assert len(ids) == len(lines)


def test_kb_has_sections(project: Path) -> None:
    text = (project / "data" / "kb" / "shop-help.md").read_text(encoding="utf-8")
    assert 3 <= text.count("\n## ") + text.startswith("## ") <= 5


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(SupportbotError) as caught:
        scaffold_project(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: folder is not empty; choose a new or empty folder for the project"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "shop"
    target.write_text("", encoding="utf-8")
    with pytest.raises(SupportbotError, match="exists and is not a folder"):
        scaffold_project(target)


def test_accepts_an_existing_empty_folder(tmp_path: Path) -> None:
    assert len(scaffold_project(tmp_path)) == len(EXPECTED)
