"""`supportbot init DIR`: copy the example project in `training/scaffold/` to a new folder.

The template is package data (not a Python package), read through importlib.resources so
it works from a wheel as well as from a checkout. It trains and serves as is.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from supportbot.errors import SupportbotError

_SKIPPED = {"__pycache__", ".DS_Store"}


def scaffold_project(dest: Path) -> list[Path]:
    """Copy the example project into `dest` and return the files written, sorted.

    Refuses a `dest` that exists and is not an empty folder, so nothing is ever overwritten.
    """
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise SupportbotError(f"{dest}: exists and is not a folder; choose a new folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise SupportbotError(
            f"{dest}: folder is not empty; choose a new or empty folder for the project"
        )
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    _copy_tree(files("training") / "scaffold", dest, written)
    return sorted(written)


def _copy_tree(source: Traversable, dest: Path, written: list[Path]) -> None:
    for item in source.iterdir():
        if item.name in _SKIPPED or item.name.endswith(".pyc"):
            continue
        target = dest / item.name
        if item.is_dir():
            target.mkdir(exist_ok=True)
            _copy_tree(item, target, written)
        else:
            target.write_bytes(item.read_bytes())
            written.append(target)
