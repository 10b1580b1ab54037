"""`supportbot kb add|remove`: change a trained bot's knowledge base in place.

Files are read with the training importers, strictly: the first bad row stops the command
with its file and line, and nothing is changed. Passages are embedded with the encoder the
model was trained with (PyTorch, as training does), then written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from retrieval.bot_model import load_serving_encoder
from retrieval.index import Passage
from retrieval.knowledge_base import (
    UpdateResult,
    open_store,
    update_knowledge_base,
    vector_settings,
)
from retrieval.model_dir import Manifest, read_manifest
from supportbot.errors import DataError, ModelError
from training.importers.common import display_path
from training.importers.knowledge_base import load_knowledge_base
from training.index_builder import FORMATS, article_passage, new_document
from training.problems import ProblemLog

SUPPORTED = ".md, .markdown, .txt or a question,answer .csv"


@dataclass
class KbFile:
    name: str
    format: str
    path: str
    passages: list[Passage]


def add_documents(
    model_dir: Path,
    paths: list[Path],
    name: str | None = None,
    progress: Callable[[str], None] = print,
) -> UpdateResult:
    """Add each file (or each knowledge-base file under a folder) as a document; a document
    with the same name is replaced, which is how a changed file is updated."""
    manifest = _manifest_with_kb(model_dir)
    files = collect_files(paths, name, progress)
    encoder = load_serving_encoder(model_dir, manifest, backend="torch")
    documents = [
        new_document(f.name, "added", f.format, f.path, f.passages, encoder.encode) for f in files
    ]
    store = open_store(model_dir, manifest.retrieval)
    try:
        return update_knowledge_base(store, documents, [], vector_settings(manifest.retrieval))
    finally:
        store.close()


def remove_documents(model_dir: Path, names: list[str]) -> UpdateResult:
    manifest = _manifest_with_kb(model_dir)
    store = open_store(model_dir, manifest.retrieval)
    try:
        return update_knowledge_base(store, [], names, vector_settings(manifest.retrieval))
    finally:
        store.close()


def _manifest_with_kb(model_dir: Path) -> Manifest:
    manifest = read_manifest(model_dir)
    if manifest.retrieval is None:
        raise ModelError(f"{model_dir}: this model has no knowledge base; retrain it")
    return manifest


def collect_files(
    paths: list[Path], name: str | None, progress: Callable[[str], None]
) -> list[KbFile]:
    """Every file read before anything is written, so one bad file changes nothing."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        found += _expand(Path(path))
    if name is not None and len(found) != 1:
        raise DataError(f"--name names one document, but {len(found)} files were given")
    files = [read_kb_file(path, name or default_name) for path, default_name in found]
    names = [f.name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"two files would both be the document {duplicates[0]!r}; use --name")
    for file in files:
        progress(f"read {file.path}: {len(file.passages)} passage(s)")
    return files


def _expand(path: Path) -> list[tuple[Path, str]]:
    """(file, default document name): a file is named by its file name; files under a
    folder by their path inside it."""
    if not path.exists():
        raise DataError("no such file or directory", display_path(path))
    if path.is_file():
        return [(path, path.name)]
    files = [
        p
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.suffix.lower() in FORMATS and not p.name.startswith(".")
    ]
    if not files:
        raise DataError(f"no knowledge-base files ({SUPPORTED}) in this folder", display_path(path))
    return [(p, p.relative_to(path).as_posix()) for p in files]


def read_kb_file(path: Path, name: str) -> KbFile:
    display = display_path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"cannot read knowledge-base passages from this file; expected {SUPPORTED}", display
        )
    problems = ProblemLog()
    data = load_knowledge_base(path, display, problems)
    problems.raise_first_error()
    if not data.articles:
        raise DataError("no passages found", display)
    return KbFile(name, fmt, display, [article_passage(a) for a in data.articles])
