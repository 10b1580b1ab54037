"""Labelled CSV: a header row, a text column and a label column (BANKING77 is `text,category`).

Column names are matched ignoring case. The label column defaults to the first of
label|intent|category present; labels `out_of_scope` and `oos` mark out-of-scope examples.
"""

from __future__ import annotations

from pathlib import Path

from training.problems import ProblemLog
from training.schema import Example, Source, TrainingData

from .common import CsvTable, intent_label, normalise_text, read_csv_table

TEXT_COLUMNS = ("text",)
LABEL_COLUMNS = ("label", "intent", "category")


def load_labelled_csv(
    path: Path,
    display: str,
    problems: ProblemLog,
    text_column: str | None = None,
    label_column: str | None = None,
) -> TrainingData:
    """Examples from a labelled CSV; rows without text or label are errors, skipped."""
    data = TrainingData()
    table = read_csv_table(path, display, problems)
    if table is None:
        return data
    text_col = find_column(table, text_column, TEXT_COLUMNS, "text", display, problems)
    label_col = find_column(table, label_column, LABEL_COLUMNS, "label", display, problems)
    if text_col is None or label_col is None:
        return data
    _warn_unused_columns(table, (text_col, label_col), display, problems)
    for line, row in table.rows:
        example = _row_example(row, text_col, label_col, Source(display, line), problems)
        if example is not None:
            data.examples.append(example)
    return data


def find_column(
    table: CsvTable,
    wanted: str | None,
    defaults: tuple[str, ...],
    role: str,
    display: str,
    problems: ProblemLog,
) -> str | None:
    """The configured column, else the first default present; an error names the header."""
    source = Source(display, table.header_line)
    if wanted is not None:
        found = table.find(wanted)
        if found is None:
            problems.error(f'missing column "{wanted}" (the header has: {table.listing()})', source)
        return found
    for name in defaults:
        found = table.find(name)
        if found is not None:
            return found
    expected = " or ".join(f'"{name}"' for name in defaults)
    problems.error(
        f"no {role} column: expected {expected} (the header has: {table.listing()})", source
    )
    return None


def _warn_unused_columns(
    table: CsvTable, used: tuple[str, ...], display: str, problems: ProblemLog
) -> None:
    unused = [c for c in table.columns if c not in used]
    if unused:
        problems.warning(
            f"ignoring column(s): {', '.join(unused)}", Source(display, table.header_line)
        )


def _row_example(
    row: dict[str, str], text_col: str, label_col: str, source: Source, problems: ProblemLog
) -> Example | None:
    text, label = normalise_text(row[text_col]), row[label_col].strip()
    if not text:
        problems.error(f"{text_col}: empty text", source)
        return None
    if not label:
        problems.error(f"{label_col}: empty label", source)
        return None
    return Example(text, intent_label(label), source)
