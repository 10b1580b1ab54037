"""A folder of model versions with one "current" pointer: what `supportbot retrain` adds to,
`supportbot models` manages and a running server follows.

    ROOT/versions/<version>/      one complete model directory per version, never modified
    ROOT/evaluations/<version>.json  its scores on the frozen test set
    ROOT/current                  the served version's name, replaced atomically (os.replace)
    ROOT/history.jsonl            promotions and rollbacks, append-only

Readers only ever see a whole pointer file, so a server polling `current` switches from one
complete version to another and never to a half-written one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.model_dir import read_manifest
from supportbot.errors import ModelError

VERSIONS_DIR = "versions"
EVALUATIONS_DIR = "evaluations"
CURRENT_FILE = "current"
HISTORY_FILE = "history.jsonl"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str
    current: bool
    training_metrics: dict
    evaluation: dict | None
    """Scores on the frozen test set, None when it was never evaluated."""

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "created_at": self.created_at,
            "current": self.current,
            "training_metrics": self.training_metrics,
            "evaluation": self.evaluation,
        }


class ModelRegistry:
    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS_DIR

    def is_registry(self) -> bool:
        return self.versions_dir.is_dir()

    def version_dir(self, version: str) -> Path:
        path = self.versions_dir / version
        if not version or "/" in version or version.startswith(".") or not path.is_dir():
            raise ModelError(f"{self.root}: no model version {version!r}")
        return path

    def current_version(self) -> str | None:
        """The served version, or None before anything was promoted."""
        try:
            text = (self.root / CURRENT_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def current_dir(self) -> Path:
        version = self.current_version()
        if version is None:
            raise ModelError(
                f"{self.root}: no current model version (promote one with "
                "`supportbot models promote`)"
            )
        return self.version_dir(version)

    def versions(self) -> list[VersionInfo]:
        """Every kept version, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        current = self.current_version()
        infos = []
        for path in self.versions_dir.iterdir():
            if path.name.startswith(".") or not path.is_dir():
                continue
            manifest = read_manifest(path, verify=False)
            infos.append(
                VersionInfo(
                    path.name,
                    manifest.created_at,
                    path.name == current,
                    manifest.metrics,
                    self.evaluation(path.name),
                )
            )
        return sorted(infos, key=lambda info: (info.created_at, info.version))

    def add(self, model_dir: Path) -> str:
        """Move a complete model directory in as a new version; returns its name (the
        manifest's version, with a suffix if that name is taken)."""
        manifest = read_manifest(model_dir)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        name, suffix = manifest.version, 2
        while (self.versions_dir / name).exists():
            name, suffix = f"{manifest.version}-{suffix}", suffix + 1
        os.replace(model_dir, self.versions_dir / name)
        return name

    def record_evaluation(self, version: str, evaluation: dict) -> None:
        folder = self.root / EVALUATIONS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomically(folder / f"{version}.json", json.dumps(evaluation, indent=2) + "\n")

    def evaluation(self, version: str) -> dict | None:
        path = self.root / EVALUATIONS_DIR / f"{version}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def promote(self, version: str, reason: str = "promote") -> None:
        """Make `version` the served one (a running server follows within its poll interval)."""
        self.version_dir(version)
        self._append_history({"event": "promote", "version": version, "reason": reason})
        _write_atomically(self.root / CURRENT_FILE, version + "\n")

    def rollback(self) -> str:
        """Serve the version promoted before the current one; returns its name."""
        stack = self.promotion_stack()
        if len(stack) < 2:
            raise ModelError(f"{self.root}: no earlier promoted version to roll back to")
        previous = stack[-2]
        self.version_dir(previous)
        self._append_history({"event": "rollback", "version": previous, "from": stack[-1]})
        _write_atomically(self.root / CURRENT_FILE, previous + "\n")
        return previous

    def promotion_stack(self) -> list[str]:
        """Promotions push, rollbacks pop: the last entry is current, the one before it is
        what a rollback returns to."""
        stack: list[str] = []
        for entry in self.history():
            if entry["event"] == "promote":
                stack.append(entry["version"])
            elif entry["event"] == "rollback" and stack:
                stack.pop()
        return stack

    def history(self) -> list[dict]:
        path = self.root / HISTORY_FILE
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _append_history(self, entry: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / HISTORY_FILE, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"at": round(time.time(), 3), **entry}) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def resolve_model_dir(path: Path) -> Path:
    """A model directory as given, or a registry root's current version."""
    registry = ModelRegistry(path)
    return registry.current_dir() if registry.is_registry() else Path(path)


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    with open(partial, "w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(partial, path)
