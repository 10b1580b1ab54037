"""Entry points that turn a path into data: a whole bot project for training, labelled
examples for evaluation, bare messages for prediction.

Training collects every problem in the Project's ProblemLog; evaluation and prediction
need a file that is entirely usable, so they raise DataError at the first bad row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supportbot.config import CONFIG_FILENAME, BotConfig, DataSource, load_config
from supportbot.errors import DataError
from training.importers import IMPORTERS, JSONL_SUFFIXES, detect_format, load_source
from training.importers.clinc import TEST_SPLITS, read_splits
from training.importers.common import display_path, normalise_text, read_csv_table, read_text
from training.importers.dialogues import iter_dialogues
from training.importers.labelled_csv import TEXT_COLUMNS, find_column, load_labelled_csv
from training.problems import ProblemLog
from training.schema import Example, TrainingData

LABELLED_FORMATS = ("dialogues", "rasa_nlu", "bot")
LABELLED_KINDS = "a labelled CSV, CLINC data_full.json, dialogue JSONL, Rasa nlu.yml or bot YAML"
MESSAGE_KINDS = ".txt (one message per line), .csv, dialogue .jsonl(.gz) or CLINC .json"


@dataclass
class Project:
    """A loaded bot project: its config, its folder, its data and what was wrong with it."""

    config: BotConfig
    root: Path
    data: TrainingData
    problems: ProblemLog


def load_project(path: Path) -> Project:
    """Load a project folder (with supportbot.yml), a bare data folder, or one data file.

    Bad rows never raise: they are recorded in `problems`. Semantic checks are separate
    (`training.validate.check_training_data`).
    """
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or directory", display_path(path))
    if path.is_dir() and (path / CONFIG_FILENAME).is_file():
        config, root = load_config(path / CONFIG_FILENAME), path
        sources = config.sources(root)
    else:
        config, root = BotConfig(), path if path.is_dir() else path.parent
        sources = [DataSource(path=str(path))]
    problems = ProblemLog()
    data = TrainingData()
    for source in sources:
        data.merge(load_source(source, problems))
    return Project(config, root, data, problems)


def load_labelled_examples(
    path: Path, text_column: str | None = None, label_column: str | None = None
) -> list[Example]:
    """Labelled examples for evaluation; CLINC files give their test + oos_test splits."""
    path = Path(path)
    display = _existing_file(path)
    problems = ProblemLog()
    name = path.name.lower()
    if name.endswith(".csv"):
        examples = load_labelled_csv(path, display, problems, text_column, label_column).examples
    elif name.endswith(".json"):
        splits = read_splits(path, display, problems, TEST_SPLITS)
        examples = [e for split in TEST_SPLITS for e in splits.get(split, [])]
    elif (fmt := detect_format(path)) in LABELLED_FORMATS:
        examples = IMPORTERS[fmt](path, display, problems).examples
    else:
        raise DataError(
            f"cannot read labelled examples from this file; expected {LABELLED_KINDS}", display
        )
    problems.raise_first_error()
    if not examples:
        raise DataError("no labelled examples found", display)
    return examples


def load_messages(path: Path, text_column: str | None = None) -> list[str]:
    """Customer messages to predict on, in file order."""
    path = Path(path)
    display = _existing_file(path)
    problems = ProblemLog()
    name = path.name.lower()
    if name.endswith(".txt"):
        messages = _text_lines(path, display, problems)
    elif name.endswith(".csv"):
        messages = _csv_texts(path, display, text_column, problems)
    elif name.endswith(JSONL_SUFFIXES):
        messages = [
            turn.text
            for dialogue in iter_dialogues(path, display, problems)
            for turn in dialogue.turns
            if turn.speaker == "customer"
        ]
    elif name.endswith(".json"):
        splits = read_splits(path, display, problems, TEST_SPLITS)
        messages = [e.text for split in TEST_SPLITS for e in splits.get(split, [])]
    else:
        raise DataError(f"cannot read messages from this file; expected {MESSAGE_KINDS}", display)
    problems.raise_first_error()
    if not messages:
        raise DataError("no messages found", display)
    return messages


def _existing_file(path: Path) -> str:
    display = display_path(path)
    if not path.exists():
        raise DataError("no such file or directory", display)
    if path.is_dir():
        raise DataError("is a folder; expected a file", display)
    return display


def _text_lines(path: Path, display: str, problems: ProblemLog) -> list[str]:
    text = read_text(path, display, problems)
    lines = (normalise_text(line) for line in (text or "").splitlines())
    return [line for line in lines if line]


def _csv_texts(
    path: Path, display: str, text_column: str | None, problems: ProblemLog
) -> list[str]:
    table = read_csv_table(path, display, problems)
    if table is None:
        return []
    column = find_column(table, text_column, TEXT_COLUMNS, "text", display, problems)
    if column is None:
        return []
    texts = (normalise_text(row[column]) for _, row in table.rows)
    return [text for text in texts if text]
