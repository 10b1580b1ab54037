"""The knowledge base's FAISS index on disk: one immutable file per generation.

A writer never changes a file a reader may be loading: it writes generation N+1 under a
new name (via a temporary file, fsynced, then renamed), commits N+1 as current in SQLite,
and only then deletes files older than N. SQLite is the one source of truth for which file
is current and for its sha256, which is checked on every load.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import faiss

from retrieval.vector_index import from_bytes, to_bytes
from supportbot.errors import ModelError

INDEX_FOLDER = "index"
_NAME = re.compile(r"^vectors-(\d{6,})\.faiss(\.partial)?$")


def vector_file_name(generation: int) -> str:
    """The file's path relative to the model directory."""
    return f"{INDEX_FOLDER}/vectors-{generation:06d}.faiss"


def write_vector_file(model_dir: Path, generation: int, index: faiss.Index) -> tuple[str, str]:
    """Write generation `generation` durably; returns (relative name, sha256)."""
    relative = vector_file_name(generation)
    final = model_dir / relative
    partial = final.with_name(final.name + ".partial")
    data = to_bytes(index)
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, final)
    _fsync_folder(final.parent)
    return relative, hashlib.sha256(data).hexdigest()


def read_vector_file(model_dir: Path, relative: str, sha256: str) -> faiss.Index:
    """Load and check one generation; FileNotFoundError is left to the caller to retry."""
    data = (model_dir / relative).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelError(f"{model_dir}: {relative} does not match the checksum in the kb store")
    return from_bytes(data, f"{model_dir / relative}")


def prune_vector_files(model_dir: Path, keep: set[str]) -> None:
    """Delete every generation not in `keep`, and partial files a crashed writer left."""
    for path in (model_dir / INDEX_FOLDER).iterdir():
        relative = f"{INDEX_FOLDER}/{path.name}"
        if _NAME.match(path.name) and relative not in keep:
            path.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
