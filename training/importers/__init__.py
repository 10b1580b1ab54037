"""Read every supported data format into one TrainingData, detecting formats from file names
and content. Problems in the data are recorded in a ProblemLog, never raised, so one run
can report all of them with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from supportbot.config import CONFIG_FILENAME, DataSource
from training.problems import ProblemLog
from training.schema import Source, TrainingData

from .bot_definition import load_bot_definition
from .clinc import load_clinc
from .common import display_path
from .dialogues import load_dialogues
from .knowledge_base import load_knowledge_base
from .labelled_csv import load_labelled_csv
from .rasa import load_rasa_domain, load_rasa_nlu

__all__ = ["FORMATS", "detect_format", "load_source", "data_files"]

Importer = Callable[[Path, str, ProblemLog], TrainingData]

FORMATS = ("bot", "dialogues", "csv", "clinc", "rasa_nlu", "rasa_domain", "kb")
YAML_SUFFIXES = (".yml", ".yaml")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
KB_SUFFIXES = (".md", ".markdown", ".txt")
FORMAT_SUFFIXES = {
    "bot": YAML_SUFFIXES,
    "rasa_nlu": YAML_SUFFIXES,
    "rasa_domain": YAML_SUFFIXES,
    "dialogues": JSONL_SUFFIXES,
    "csv": (".csv",),
    "clinc": (".json",),
    "kb": KB_SUFFIXES + (".csv",),
}
IGNORED_NAMES = ("README", "LICENSE", "LICENCE", "ATTRIBUTION")
RASA_FLOW_KEYS = {"rules", "stories"}
TOP_LEVEL_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:", re.MULTILINE)
SNIFF_BYTES = 1 << 16

IMPORTERS: dict[str, Importer] = {
    "bot": load_bot_definition,
    "dialogues": load_dialogues,
    "clinc": load_clinc,
    "rasa_nlu": load_rasa_nlu,
    "rasa_domain": load_rasa_domain,
    "kb": load_knowledge_base,
}


def detect_format(path: Path) -> str | None:
    """The format of one data file from its name and a peek at its content, or None."""
    name = path.name.lower()
    if not path.is_file():
        return None
    if name.endswith(JSONL_SUFFIXES):
        return "dialogues"
    if name == "data_full.json":
        return "clinc"
    if name.endswith(".csv"):
        return "kb" if {"question", "answer"} <= _csv_header(path) else "csv"
    if name.endswith(KB_SUFFIXES):
        return "kb"
    if name.endswith(YAML_SUFFIXES):
        return _yaml_format(path)
    return None


def load_source(source: DataSource, problems: ProblemLog) -> TrainingData:
    """Everything in one configured source (a file or a folder walked recursively).

    Each file read is listed in `TrainingData.files`; a missing path is an error.
    """
    path = Path(source.path)
    data = TrainingData()
    if not path.exists():
        problems.error("no such file or directory", Source(display_path(path)))
        return data
    if path.is_dir():
        files = data_files(path, source.format, problems)
    else:
        files = [(path, source.format or detect_format(path))]
    for file, fmt in files:
        if fmt is None:
            problems.error(
                f"cannot tell the data format of this file; set `format:` for it in "
                f"{CONFIG_FILENAME} (one of {', '.join(FORMATS)})",
                Source(display_path(file)),
            )
            continue
        data.merge(_import(file, fmt, source, problems))
    return data


def data_files(folder: Path, fmt: str | None, problems: ProblemLog) -> list[tuple[Path, str]]:
    """(file, format) for each data file under `folder`, in a stable order.

    Hidden files, README/LICENSE/ATTRIBUTION and the project config are ignored, Rasa
    rules/stories are read by the domain importer, and anything else unrecognised is a warning.
    """
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or _ignored(relative):
            continue
        if fmt is not None:
            detected = fmt if path.name.lower().endswith(FORMAT_SUFFIXES[fmt]) else None
        else:
            detected = detect_format(path)
        if detected is not None:
            found.append((path, detected))
        elif not _is_rasa_flows(path):
            problems.warning("not a recognised data file; skipped", Source(display_path(path)))
    return found


def _import(path: Path, fmt: str, source: DataSource, problems: ProblemLog) -> TrainingData:
    display = display_path(path)
    if fmt == "csv":
        data = load_labelled_csv(path, display, problems, source.text_column, source.label_column)
    else:
        data = IMPORTERS[fmt](path, display, problems)
    data.files.insert(0, display)
    return data


def _ignored(relative: Path) -> bool:
    if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
        return True
    name = relative.name
    return name == CONFIG_FILENAME or name.split(".")[0].upper() in IGNORED_NAMES


def _sniff(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""


def _csv_header(path: Path) -> set[str]:
    first = next((line for line in _sniff(path).splitlines() if line.strip()), "")
    cells = first.lstrip("\ufeff").split(",")
    return {cell.strip().strip('"').strip().casefold() for cell in cells}


def _top_level_keys(path: Path) -> set[str]:
    return set(TOP_LEVEL_KEY.findall(_sniff(path)))


def _yaml_format(path: Path) -> str | None:
    keys = _top_level_keys(path)
    if "nlu" in keys:
        return "rasa_nlu"
    if "responses" in keys or path.stem.lower() == "domain":
        return "rasa_domain"
    if "intents" in keys:
        return "bot"
    return None


def _is_rasa_flows(path: Path) -> bool:
    """A Rasa rules/stories file: not data on its own, read alongside domain.yml."""
    if not path.name.lower().endswith(YAML_SUFFIXES):
        return False
    keys = _top_level_keys(path) - {"version"}
    return bool(keys) and keys <= RASA_FLOW_KEYS
