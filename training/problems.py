"""Problems found while reading or checking data, collected rather than raised one at a time,
so `supportbot data validate` can report every bad row in one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from supportbot.errors import DataError
from training.schema import Source

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    source: Source | None = None

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source is not None else ""
        return f"{where}{self.severity}: {self.message}"


@dataclass
class ProblemLog:
    problems: list[Problem] = field(default_factory=list)

    def error(self, message: str, source: Source | None = None) -> None:
        self.problems.append(Problem("error", message, source))

    def warning(self, message: str, source: Source | None = None) -> None:
        self.problems.append(Problem("warning", message, source))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def raise_first_error(self) -> None:
        """For work that needs every row (evaluation, prediction, a kb file): the first
        error, with its file and line, and how many more there are."""
        errors = self.errors
        if not errors:
            return
        first = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        path = first.source.path if first.source else None
        line = first.source.line if first.source else None
        raise DataError(first.message + more, path, line)

    def raise_if_errors(self, limit: int = 20) -> None:
        """Raise one DataError listing the first `limit` errors, each with file and line."""
        errors = self.errors
        if not errors:
            return
        shown = "\n".join(f"  {p}" for p in errors[:limit])
        more = f"\n  ... and {len(errors) - limit} more" if len(errors) > limit else ""
        raise DataError(f"{len(errors)} error(s) in the training data:\n{shown}{more}")
