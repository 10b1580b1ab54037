"""Writes a model directory atomically: everything goes into a hidden staging folder next to
the target, which replaces the target only once complete. An error or Ctrl-C leaves the
previous model (or nothing) in place, never a half-written directory."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retrieval.model_dir import MANIFEST_FILE, Manifest, sha256_file
from supportbot.errors import ModelError


@contextmanager
def staged_model_dir(target: Path) -> Iterator[Path]:
    target = Path(target)
    if target.exists() and not _replaceable(target):
        raise ModelError(
            f"{target}: exists and is not a supportbot model directory; refusing to overwrite it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        _swap_into_place(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _replaceable(target: Path) -> bool:
    return target.is_dir() and ((target / MANIFEST_FILE).is_file() or not any(target.iterdir()))


def _swap_into_place(stage: Path, target: Path) -> None:
    retired = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        target.rename(retired)
    stage.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def checksum_files(model_dir: Path, relative_paths: list[str]) -> dict[str, str]:
    return {path: sha256_file(model_dir / path) for path in sorted(relative_paths)}


def write_manifest(model_dir: Path, manifest: Manifest) -> None:
    """Written last, so a directory with a manifest is a complete one."""
    text = json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=False)
    (model_dir / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
