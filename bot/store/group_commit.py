"""Group commit: writes that queue up while the log is busy share one SQLite transaction.

The log commits with `synchronous=FULL`, so every commit waits for the disk; a turn
writes its dialogue state and its log row, and under load dozens of turns finish at
once. Each write is queued with a future; the writer thread takes every queued write,
runs each inside its own savepoint of one transaction and commits once. A write that
fails rolls back its savepoint only, and its caller gets the error; if the commit fails,
every write in it gets that error. A caller's future resolves only after the commit, so a
turn answered is a turn on disk, as before.

Writes reach the store's single-thread executor through `ExecutorBatches`: a job only
when none is waiting to start, one wake-up per commit. A job submitted to that executor
after a write (a read, say) runs after the commit that holds it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import sqlite_utils

from bot.store.executor_batches import ExecutorBatches, Outcome

T = TypeVar("T")
Write = tuple[Callable[..., Any], tuple]


class GroupCommit:
    def __init__(self, db: sqlite_utils.Database, executor: Executor):
        self._db = db
        self._batches: ExecutorBatches[Write, Any] = ExecutorBatches(executor, self._commit)
        self.commits = 0
        """Transactions committed so far (tests read it to see writes grouped)."""

    async def write(self, func: Callable[..., T], *args: Any) -> T:
        """`func(db, *args)` in the next group transaction; returns once it is committed."""
        return await self._batches.submit((func, args))

    def _commit(self, batch: list[Write]) -> list[Outcome]:
        """On the executor's thread: run each write in its savepoint, commit once."""
        outcomes: list[Outcome] = []
        try:
            with self._db.atomic():
                for func, args in batch:
                    outcomes.append(self._run_one(func, args))
            self.commits += 1
        except Exception as exc:  # the commit failed: nothing in the batch was written
            outcomes = [(None, exc)] * len(batch)
        return outcomes

    def _run_one(self, func: Callable[..., Any], args: tuple) -> Outcome:
        try:
            with self._db.atomic():  # a savepoint inside the group's transaction
                return func(self._db, *args), None
        except Exception as exc:
            return None, exc
