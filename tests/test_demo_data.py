"""The bundled banking demo: matches BANKING77's train split, follows the data contract, and
rebuilds byte for byte."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from supportbot.config import load_config
from training.schema import OUTCOMES, SPEAKERS

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "banking_demo"
BUILD_SCRIPT = REPO / "data" / "build_banking_demo.py"
BANKING77 = REPO.parent / "shared" / "data" / "banking77"

needs_banking77 = pytest.mark.skipif(
    not (BANKING77 / "train.csv").is_file(), reason=f"BANKING77 not found at {BANKING77}"
)


@pytest.fixture(scope="module")
def bot() -> dict:
    return yaml.safe_load((DEMO / "bot.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dialogues() -> list[dict]:
    with gzip.open(DEMO / "dialogues.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def train_rows() -> list[dict]:
    with (BANKING77 / "train.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _labelled_turns(dialogues: list[dict]) -> list[dict]:
    return [t for d in dialogues for t in d["turns"] if "intent" in t]


def test_bot_has_exactly_the_banking77_categories(bot: dict) -> None:
    categories = BANKING77 / "categories.json"
    if not categories.is_file():
        pytest.skip(f"{categories} not found")
    assert set(bot["intents"]) == set(json.loads(categories.read_text(encoding="utf-8")))


def test_every_intent_has_a_response_and_no_examples(bot: dict) -> None:
    assert set(bot) == {"version", "intents", "out_of_scope"}
    assert len(bot["intents"]) == 77
    for name, intent in bot["intents"].items():
        assert set(intent) == {"responses"}, name
        for response in intent["responses"]:
            text = response if isinstance(response, str) else response["text"]
            assert text.strip(), name
    with_buttons = [i for i in bot["intents"].values() if isinstance(i["responses"][0], dict)]
    assert len(with_buttons) >= 8
    assert len(bot["out_of_scope"]) >= 20


def test_dialogues_follow_the_contract(dialogues: list[dict], bot: dict) -> None:
    responses = {
        name: {r if isinstance(r, str) else r["text"] for r in intent["responses"]}
        for name, intent in bot["intents"].items()
    }
    assert len({d["id"] for d in dialogues}) == len(dialogues)
    for dialogue in dialogues:
        assert set(dialogue) == {"id", "turns", "outcome"}
        assert dialogue["id"].startswith("b77-") and dialogue["outcome"] in OUTCOMES
        turns = dialogue["turns"]
        assert all(t["speaker"] in SPEAKERS and t["text"] for t in turns)
        labelled = [i for i, t in enumerate(turns) if "intent" in t]
        assert len(labelled) == 1, dialogue["id"]
        question, answer = turns[labelled[0]], turns[labelled[0] + 1]
        assert question["speaker"] == "customer" and answer["speaker"] == "agent"
        assert answer["text"] in responses[question["intent"]], dialogue["id"]
    outcomes = [d["outcome"] for d in dialogues]
    assert 0 < outcomes.count("escalated") < outcomes.count("resolved") / 10


@needs_banking77
def test_one_labelled_turn_per_train_row(dialogues: list[dict], train_rows: list[dict]) -> None:
    labelled = _labelled_turns(dialogues)
    assert len(dialogues) == len(labelled) == len(train_rows)
    assert [(t["text"], t["intent"]) for t in labelled] == [
        (r["text"], r["category"]) for r in train_rows
    ]


@needs_banking77
def test_rebuild_is_byte_identical(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--source", str(BANKING77), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("bot.yml", "dialogues.jsonl.gz"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_project_config_validates_and_its_data_exists() -> None:
    config = load_config(DEMO / "supportbot.yml")
    assert config.name == "banking-demo"
    for source in config.sources(DEMO):
        assert Path(source.path).exists(), source.path


def test_kb_articles_are_split_into_sections() -> None:
    articles = sorted((DEMO / "kb").glob("*.md"))
    assert 6 <= len(articles) <= 8
    for article in articles:
        text = article.read_text(encoding="utf-8")
        assert text.startswith("## ") and text.count("\n## ") >= 1, article.name
