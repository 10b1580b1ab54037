"""Loading a project for training, labelled examples for evaluation, messages for prediction."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from supportbot.config import BotConfig
from supportbot.errors import DataError
from supportbot.testing import write_file as write
from training.loader import Project, load_labelled_examples, load_messages, load_project
from training.schema import OUT_OF_SCOPE, Source

FIXTURES = Path(__file__).parent / "fixtures" / "data"

BOT_YML = """\
version: 1
intents:
  greet:
    examples: [hello, hi there]
    responses: ["Hello!"]
"""
CHATS = [
    {
        "id": "c1",
        "turns": [
            {"speaker": "customer", "text": "where's my card", "intent": "card"},
            {"speaker": "agent", "text": "On its way."},
        ],
    },
    {
        "id": "c2",
        "turns": [{"speaker": "customer", "text": "hi and card?", "intents": ["greet", "card"]}],
    },
]
CLINC = {
    "train": [["what is my balance", "balance"]],
    "val": [["balance please", "balance"]],
    "test": [["test balance", "balance"]],
    "oos_train": [["how tall is everest", "oos"]],
    "oos_val": [["sing a song", "oos"]],
    "oos_test": [["oos test", "oos"]],
}


def jsonl(items: list[dict]) -> str:
    return "".join(json.dumps(item) + "\n" for item in items)


# --- load_project ----------------------------------------------------------------------------


def test_project_folder_uses_its_config_and_sources(here: Path) -> None:
    write(
        here,
        "bot/supportbot.yml",
        """\
name: demo
data:
  - bot.yml
  - path: logs/labels.csv
    format: csv
    text_column: utterance
    label_column: tag
training:
  min_examples_per_intent: 3
""",
    )
    write(here, "bot/bot.yml", BOT_YML)
    write(here, "bot/logs/labels.csv", "utterance,tag\nyo,greet\n")
    project = load_project(Path("bot"))
    assert isinstance(project, Project)
    assert project.config.name == "demo"
    assert project.config.training.min_examples_per_intent == 3
    assert project.root == Path("bot")
    assert project.data.files == ["bot/bot.yml", "bot/logs/labels.csv"]
    assert [e.text for e in project.data.examples] == ["hello", "hi there", "yo"]
    assert project.problems.problems == []


def test_folder_without_config_is_itself_the_data(here: Path) -> None:
    write(here, "data/bot.yml", BOT_YML)
    write(here, "data/chats.jsonl", jsonl(CHATS))
    project = load_project(here / "data")
    assert project.config == BotConfig()
    assert project.root == here / "data"
    assert project.data.files == ["data/bot.yml", "data/chats.jsonl"]
    assert len(project.data.dialogues) == 2


def test_single_file_is_the_only_source(here: Path) -> None:
    write(here, "train.csv", "text,category\nhi,greet\n")
    project = load_project(Path("train.csv"))
    assert project.config == BotConfig()
    assert project.root == Path(".")
    assert [(e.text, e.intent) for e in project.data.examples] == [("hi", "greet")]


def test_missing_path_raises() -> None:
    with pytest.raises(DataError, match=r"^nowhere/at/all: no such file or directory$"):
        load_project(Path("nowhere/at/all"))


def test_bad_rows_are_recorded_not_raised(here: Path) -> None:
    write(here, "supportbot.yml", "data: [data, missing.csv]\n")
    write(here, "data/train.csv", "text,label\nhi,greet\nbad,row,here\n")
    project = load_project(here)
    assert [str(p) for p in project.problems.problems] == [
        "data/train.csv:3: error: expected 2 columns (text, label), got 3",
        "missing.csv: error: no such file or directory",
    ]
    assert len(project.data.examples) == 1


# --- load_labelled_examples ------------------------------------------------------------------


def test_labelled_examples_from_csv_with_named_columns(here: Path) -> None:
    write(here, "test.csv", "q,gold\nhi,greet\nweather?,oos\n")
    examples = load_labelled_examples(Path("test.csv"), text_column="q", label_column="gold")
    assert [(e.text, e.intent, e.source) for e in examples] == [
        ("hi", "greet", Source("test.csv", 2)),
        ("weather?", OUT_OF_SCOPE, Source("test.csv", 3)),
    ]


def test_labelled_examples_from_clinc_are_the_test_splits(here: Path) -> None:
    write(here, "data_full.json", json.dumps(CLINC))
    examples = load_labelled_examples(Path("data_full.json"))
    assert [(e.text, e.intent) for e in examples] == [
        ("test balance", "balance"),
        ("oos test", OUT_OF_SCOPE),
    ]


def test_labelled_examples_from_dialogues_rasa_and_bot_yaml(here: Path) -> None:
    write(here, "chats.jsonl.gz", gzip.compress(jsonl(CHATS).encode()))
    assert [e.intent for e in load_labelled_examples(Path("chats.jsonl.gz"))] == ["card"]
    rasa = load_labelled_examples(FIXTURES / "rasa" / "nlu.yml")
    assert len(rasa) == 5
    write(here, "bot.yml", BOT_YML)
    assert [e.text for e in load_labelled_examples(Path("bot.yml"))] == ["hello", "hi there"]


def test_labelled_examples_raise_on_malformed_row(here: Path) -> None:
    write(here, "test.csv", "text,label\nhi,greet\nhello\n")
    with pytest.raises(DataError, match=r"^test.csv:3: expected 2 columns \(text, label\), got 1$"):
        load_labelled_examples(Path("test.csv"))


def test_labelled_examples_raise_when_nothing_is_labelled(here: Path) -> None:
    write(here, "test.csv", "text,label\n")
    with pytest.raises(DataError, match=r"^test.csv: no labelled examples found$"):
        load_labelled_examples(Path("test.csv"))
    write(here, "faq.md", "# Q\nA\n")
    with pytest.raises(DataError, match=r"^faq.md: cannot read labelled examples"):
        load_labelled_examples(Path("faq.md"))
    with pytest.raises(DataError, match=r"^gone.csv: no such file or directory$"):
        load_labelled_examples(Path("gone.csv"))


# --- load_messages ---------------------------------------------------------------------------


def test_messages_from_each_kind_of_file(here: Path) -> None:
    write(here, "inbox.txt", "  where is   my card \n\nhello\n")
    assert load_messages(Path("inbox.txt")) == ["where is my card", "hello"]
    write(here, "inbox.csv", "id,body\n1,hi\n2,\n3,bye\n")
    assert load_messages(Path("inbox.csv"), text_column="body") == ["hi", "bye"]
    write(here, "chats.jsonl", jsonl(CHATS))
    assert load_messages(Path("chats.jsonl")) == ["where's my card", "hi and card?"]
    write(here, "data_full.json", json.dumps(CLINC))
    assert load_messages(Path("data_full.json")) == ["test balance", "oos test"]


def test_unreadable_message_files_raise(here: Path) -> None:
    write(here, "inbox.txt", "ok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"^inbox.txt:2: not valid UTF-8 \(byte 0xe9\)"):
        load_messages(Path("inbox.txt"))
    write(here, "inbox.csv", "id,body\n1,hi\n")
    with pytest.raises(DataError, match=r'^inbox.csv:1: no text column: expected "text"'):
        load_messages(Path("inbox.csv"))
    write(here, "inbox.pdf", "%PDF")
    with pytest.raises(DataError, match=r"^inbox.pdf: cannot read messages from this file"):
        load_messages(Path("inbox.pdf"))
