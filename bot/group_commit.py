"""Group commit: writes that queue up while the log is busy share one SQLite transaction.

The log commits with `synchronous=FULL`, so every commit waits for the disk; a turn
writes its dialogue state and its log row, and under load dozens of turns finish at
once. Each write is queued with a future; the writer thread takes every queued write,
runs each inside its own savepoint of one transaction and commits once. A write that
fails rolls back its savepoint only, and its caller gets the error; if the commit fails,
every write in it gets that error. A caller's future resolves only after the commit, so a
turn answered is a turn on disk, as before.

Jobs go to the store's single-thread executor, one per write, in the order the writes
were queued; a job finding the queue already emptied by an earlier one returns at once.
Reads and other jobs on that executor therefore still see every write queued before them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

import sqlite_utils

T = TypeVar("T")
Write = tuple[Callable[..., Any], tuple, asyncio.Future, asyncio.AbstractEventLoop]


class GroupCommit:
    def __init__(self, db: sqlite_utils.Database, executor: Executor):
        self._db = db
        self._executor = executor
        self._queued: deque[Write] = deque()
        self.commits = 0
        """Transactions committed so far (tests read it to see writes grouped)."""

    async def write(self, func: Callable[..., T], *args: Any) -> T:
        """`func(db, *args)` in the next group transaction; returns once it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._queued.append((func, args, future, loop))
        await loop.run_in_executor(self._executor, self._commit_queued)
        return await future

    def _commit_queued(self) -> None:
        """On the executor's thread: run and commit everything queued. Never raises."""
        batch: list[Write] = []
        while self._queued:
            batch.append(self._queued.popleft())
        if not batch:
            return
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            with self._db.atomic():
                for func, args, _, _ in batch:
                    outcomes.append(self._run_one(func, args))
            self.commits += 1
        except Exception as exc:  # the commit failed: nothing in the batch was written
            outcomes = [(None, exc)] * len(batch)
        for (_, _, future, loop), (result, error) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, result, error)

    def _run_one(self, func: Callable[..., Any], args: tuple) -> tuple[Any, Exception | None]:
        try:
            with self._db.atomic():  # a savepoint inside the group's transaction
                return func(self._db, *args), None
        except Exception as exc:
            return None, exc


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
