"""Helpers every importer shares: readable paths, text normalisation, safe file reading.

Reading never raises for bad content: it records a Problem with file and line and returns
None, so one bad file or row does not hide the problems in the rest of the data.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from training.problems import ProblemLog
from training.schema import OUT_OF_SCOPE, Source

OUT_OF_SCOPE_LABELS = frozenset({OUT_OF_SCOPE, "oos"})
GZIP_MAGIC = b"\x1f\x8b"


def display_path(path: Path) -> str:
    """The path as a reader wants it in a message: relative to the current dir when under it."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def normalise_text(text: str) -> str:
    """Strip and collapse runs of whitespace; case is kept (it can carry meaning)."""
    return " ".join(text.split())


def intent_label(label: str) -> str:
    """Map the conventional out-of-scope labels (`oos`, `out_of_scope`) to OUT_OF_SCOPE."""
    return OUT_OF_SCOPE if label in OUT_OF_SCOPE_LABELS else label


def describe(value: object) -> str:
    """A short rendering of a bad value for an error message."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value) if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + '..."'


def quote(text: str, limit: int = 60) -> str:
    """Quote a data text for a message, shortened so one problem stays on one line."""
    return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 3]}..."'


def warn_unknown_keys(
    mapping: dict, allowed: Iterable[str], where: str, source: Source, problems: ProblemLog
) -> None:
    """One warning per key the format does not define; the rest of the item is still used.

    YAML mappings know each key's line, so the warning points at the key itself.
    """
    allowed = set(allowed)
    line_of = getattr(mapping, "line_of", None)
    for key in mapping:
        if key not in allowed:
            at = Source(source.path, line_of(key)) if line_of else source
            problems.warning(f"{where}{key}: unknown field, ignored", at)


def _decode(raw: bytes, display: str, problems: ProblemLog, first_line: int = 1) -> str | None:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = first_line + raw[: exc.start].count(b"\n")
        problems.error(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            Source(display, line),
        )
        return None


def read_text(path: Path, display: str, problems: ProblemLog) -> str | None:
    """The whole file as text, or None after recording why it could not be read."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.error(f"cannot read file: {exc.strerror or exc}", Source(display))
        return None
    return _decode(raw, display, problems)


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(2) == GZIP_MAGIC
    except OSError:
        return False


def iter_json_lines(path: Path, display: str, problems: ProblemLog) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for each non-blank line of a JSONL file, gzipped or not.

    Streams, so a large gzipped file is never held in memory whole. Bad lines are recorded
    as problems and skipped.
    """
    line_no = 0
    try:
        opener = gzip.open if is_gzip(path) else open
        with opener(path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                value = _parse_json_line(raw, line_no, display, problems)
                if value is not None:
                    yield line_no, value
    except (OSError, EOFError, zlib.error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        problems.error(
            f"cannot read file: {reason}", Source(display, line_no + 1 if line_no else None)
        )


def _parse_json_line(raw: bytes, line_no: int, display: str, problems: ProblemLog) -> object:
    if not raw.strip():
        return None
    text = _decode(raw, display, problems, first_line=line_no)
    if text is None:
        return None
    try:
        value = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as exc:
        problems.error(f"not valid JSON: {exc.msg} (column {exc.colno})", Source(display, line_no))
        return None
    except (RecursionError, ValueError):  # too deep, or an integer beyond int's digit limit
        problems.error(
            "not valid JSON: nested too deeply or a number too long", Source(display, line_no)
        )
        return None
    if _has_lone_surrogate(value):
        problems.error(LONE_SURROGATE, Source(display, line_no))
        return None
    return value


LONE_SURROGATE = "text is not valid Unicode: a lone surrogate escape such as \\ud800"


def _has_lone_surrogate(value: object) -> bool:
    """Whether any string in a parsed JSON value (keys too) holds a lone surrogate, which
    the tokenizer and the SQLite log cannot take."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and any("\ud800" <= char <= "\udfff" for char in item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


@dataclass
class CsvTable:
    """A CSV file with its header checked: column names (as written) and rows by column."""

    columns: list[str]
    header_line: int
    rows: list[tuple[int, dict[str, str]]]

    def find(self, name: str) -> str | None:
        """The column written as `name`, ignoring case and surrounding spaces."""
        wanted = name.strip().casefold()
        return next((c for c in self.columns if c.casefold() == wanted), None)

    def listing(self) -> str:
        return ", ".join(self.columns)


def read_csv_table(path: Path, display: str, problems: ProblemLog) -> CsvTable | None:
    """Parse a CSV with a header row. Rows with the wrong number of cells are errors, skipped."""
    text = read_text(path, display, problems)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 1
    rows: list[tuple[int, dict[str, str]]] = []
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header, header_line = [c.strip() for c in cells], line
            elif len(cells) != len(header):
                problems.error(
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(cells)}",
                    Source(display, line),
                )
            else:
                rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        problems.error(f"not valid CSV: {exc}", Source(display, start))
    if header is None:
        problems.error("empty CSV file: expected a header row", Source(display, 1))
        return None
    return CsvTable(header, header_line, rows)
