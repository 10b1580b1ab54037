"""Labels in and out of the conversation log as CSV or JSON lines, for reviewing in a
spreadsheet or another tool.

Export writes the queued picks (or every stored label) with the columns a reviewer fills:
`intent` (confirm or correct), `new_intent` (true when the intent is new), `reply` (an
edited reply, optional). Import reads the same shape back: rows with an empty `intent` are
skipped as not reviewed; every bad row is reported with file and line, and then nothing is
stored, so a half-imported file never happens.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from bot.store.learning_log import Label, LabelError, LearningLog, check_label
from supportbot.errors import DataError

COLUMNS = (
    "turn_id",
    "text",
    "bot_intent",
    "confidence",
    "reasons",
    "intent",
    "new_intent",
    "reply",
)
TRUE = ("true", "1", "yes", "y")
FALSE = ("false", "0", "no", "n", "")
MAX_ERRORS_SHOWN = 20


@dataclass(frozen=True)
class ImportResult:
    stored: int
    skipped: int
    """Rows without an intent: not reviewed yet."""


def file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise DataError("expected a .csv or .jsonl file", path)


def export_rows(log: LearningLog, labelled: bool = False) -> list[dict]:
    """Pending picks to fill in, or (`labelled`) the labels already stored."""
    if not labelled:
        return [
            {
                "turn_id": p["turn_id"],
                "text": p["message"],
                "bot_intent": p["intent"],
                "confidence": p["confidence"],
                "reasons": " ".join(p["reasons"]),
                "intent": "",
                "new_intent": False,
                "reply": "",
            }
            for p in log.pending_picks()
        ]
    return [
        {**row, "reasons": "", "new_intent": bool(row["new_intent"]), "reply": row["reply"] or ""}
        for row in log.labelled_rows()
    ]


def write_rows(rows: list[dict], path: Path) -> int:
    """Write rows as CSV or JSON lines (by extension); returns the row count."""
    kind = file_kind(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as stream:
        if kind == "csv":
            writer = csv.DictWriter(stream, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                stream.write(json.dumps({k: row.get(k) for k in COLUMNS}, ensure_ascii=False))
                stream.write("\n")
    return len(rows)


def read_labels(path: Path, reviewer: str) -> tuple[list[tuple[int, Label]], int]:
    """(line, label) pairs and the count of rows left unreviewed; DataError listing every
    bad line (`file:line: field: reason`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path)
    rows = _csv_rows(path) if file_kind(path) == "csv" else _jsonl_rows(path)
    labels, errors, skipped = [], [], 0
    for line, row in rows:
        try:
            if isinstance(row, str):
                raise LabelError(row)
            label = _label(row, reviewer)
        except LabelError as exc:
            errors.append(f"{path}:{line}: {exc}")
            continue
        if label is None:
            skipped += 1
        else:
            labels.append((line, label))
    _raise_errors(errors)
    return labels, skipped


def import_labels(log: LearningLog, path: Path, reviewer: str = "import") -> ImportResult:
    """Store every reviewed row of the file, or none when any row is bad."""
    labels, skipped = read_labels(path, reviewer)
    known = log.known_turn_ids()
    errors = [
        f"{path}:{line}: turn_id: no turn {label.turn_id} in the conversation log"
        for line, label in labels
        if label.turn_id not in known
    ]
    _raise_errors(errors)
    log.save_labels([label for _, label in labels])
    return ImportResult(len(labels), skipped)


def _raise_errors(errors: list[str]) -> None:
    if not errors:
        return
    shown = errors[:MAX_ERRORS_SHOWN]
    more = len(errors) - len(shown)
    tail = f"\n... and {more} more" if more else ""
    raise DataError(f"{len(errors)} bad row(s), nothing imported:\n" + "\n".join(shown) + tail)


def _csv_rows(path: Path) -> list[tuple[int, dict | str]]:
    with open(path, encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        if not reader.fieldnames or "turn_id" not in reader.fieldnames:
            raise DataError('header: expected the columns "turn_id" and "intent"', path, 1)
        if "intent" not in reader.fieldnames:
            raise DataError('header: expected the columns "turn_id" and "intent"', path, 1)
        rows: list[tuple[int, dict | str]] = []
        for row in reader:
            if None in row:
                rows.append((reader.line_num, "more values than the header has columns"))
            else:
                rows.append((reader.line_num, row))
        return rows


def _jsonl_rows(path: Path) -> list[tuple[int, dict | str]]:
    rows: list[tuple[int, dict | str]] = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            rows.append((line, "not valid JSON"))
            continue
        rows.append((line, value if isinstance(value, dict) else "expected a JSON object"))
    return rows


def _label(row: dict, reviewer: str) -> Label | None:
    intent = row.get("intent")
    intent = intent.strip() if isinstance(intent, str) else intent
    if intent in (None, ""):
        return None
    label = Label(
        _turn_id(row.get("turn_id")),
        intent,
        _flag(row.get("new_intent")),
        _reply(row.get("reply")),
        reviewer,
        "import",
    )
    check_label(label)
    return label


def _turn_id(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise LabelError("turn_id: expected an integer")


def _flag(value) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise LabelError("new_intent: expected true or false")


def _reply(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise LabelError("reply: expected a string")
    return value.strip()
