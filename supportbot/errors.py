"""Library errors. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations

from pathlib import Path


class SupportbotError(Exception):
    """Base for every error that is meant to be shown to the operator as is."""


class DataError(SupportbotError):
    """Bad training data, located by file and (where known) line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.reason = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        if self.path is None:
            return self.reason
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.reason}"


class ConfigError(SupportbotError):
    """A configuration file or value is invalid; the message names the key path."""


class ModelError(SupportbotError):
    """A model directory is missing, incomplete, or does not match what loads it."""
