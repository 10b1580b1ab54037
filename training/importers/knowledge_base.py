"""Knowledge-base passages for retrieval: Markdown split on headings, whole `.txt` files, and
question/answer CSVs.

Passage text keeps its line and paragraph breaks (answers are shown to customers, and lists
must stay lists); only trailing spaces and runs of blank lines are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from training.problems import ProblemLog
from training.schema import Article, Source, TrainingData

from .common import normalise_text, read_csv_table, read_text

HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
FENCE = re.compile(r"^ {0,3}(```|~~~)")
QA_COLUMNS = ("question", "answer", "title", "url")
MARKDOWN_SUFFIXES = (".md", ".markdown")


@dataclass
class _Section:
    title: str
    level: int
    line: int
    lines: list[str] = field(default_factory=list)


def load_knowledge_base(path: Path, display: str, problems: ProblemLog) -> TrainingData:
    """Articles from one knowledge-base file (Markdown, plain text or question/answer CSV)."""
    data = TrainingData()
    if path.suffix.lower() == ".csv":
        data.articles = _qa_articles(path, display, problems)
        return data
    text = read_text(path, display, problems)
    if text is None:
        return data
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        data.articles = split_markdown(text, path.stem, display, problems)
    elif clean_passage(text.splitlines()):
        data.articles = [Article(path.stem, clean_passage(text.splitlines()), Source(display, 1))]
    else:
        problems.warning("empty file; no passage read", Source(display))
    return data


def clean_passage(lines: list[str]) -> str:
    """Trailing spaces and repeated blank lines removed; paragraphs and line breaks kept."""
    kept: list[str] = []
    for line in lines:
        line = line.rstrip()
        if line or (kept and kept[-1]):
            kept.append(line)
    return "\n".join(kept).strip()


def split_markdown(text: str, stem: str, display: str, problems: ProblemLog) -> list[Article]:
    """One passage per heading (headings inside code fences do not count)."""
    sections = _sections(text, stem)
    articles = []
    for index, section in enumerate(sections):
        body = clean_passage(section.lines)
        source = Source(display, section.line)
        if body:
            articles.append(Article(section.title, body, source))
        elif section.level and not _has_subsections(sections, index):
            problems.warning(f'section "{section.title}" has no text; skipped', source)
    return articles


def _sections(text: str, stem: str) -> list[_Section]:
    sections = [_Section(stem, 0, 1)]
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else HEADING.match(line)
        if match:
            title = normalise_text(match.group(2) or "") or stem
            sections.append(_Section(title, len(match.group(1)), number))
        else:
            sections[-1].lines.append(line)
    return sections


def _has_subsections(sections: list[_Section], index: int) -> bool:
    following = sections[index + 1] if index + 1 < len(sections) else None
    return following is not None and following.level > sections[index].level


def _qa_articles(path: Path, display: str, problems: ProblemLog) -> list[Article]:
    table = read_csv_table(path, display, problems)
    if table is None:
        return []
    columns = {name: table.find(name) for name in QA_COLUMNS}
    missing = [name for name in ("question", "answer") if columns[name] is None]
    if missing:
        problems.error(
            f"missing column(s) {', '.join(missing)} (the header has: {table.listing()})",
            Source(display, table.header_line),
        )
        return []
    unused = [c for c in table.columns if c not in columns.values()]
    if unused:
        problems.warning(
            f"ignoring column(s): {', '.join(unused)}", Source(display, table.header_line)
        )
    articles = []
    for line, row in table.rows:
        article = _qa_article(row, columns, Source(display, line), problems)
        if article is not None:
            articles.append(article)
    return articles


def _qa_article(
    row: dict[str, str], columns: dict[str, str | None], source: Source, problems: ProblemLog
) -> Article | None:
    values = {name: (row[col] if col else "") for name, col in columns.items()}
    question = normalise_text(values["question"])
    answer = clean_passage(values["answer"].splitlines())
    for name, value in (("question", question), ("answer", answer)):
        if not value:
            problems.error(f"{columns[name]}: empty {name}", source)
            return None
    title = normalise_text(values["title"]) or question
    return Article(title, answer, source, question=question, url=values["url"].strip() or None)
