"""An owner for work that outlives the request that started it (a Slack turn runs after the
HTTP ack). Every task is kept until done, its failure is logged, and `drain` awaits the rest
on shutdown, so nothing is fire-and-forget."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """A set of running tasks; closed to new work once draining starts."""

    def __init__(self, name: str):
        self.name = name
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Coroutine[Any, Any, None], label: str) -> asyncio.Task:
        """Run `coro` in the background; `label` names it in logs (ids, never message text)."""
        if self._closed:
            coro.close()
            raise RuntimeError(f"{self.name}: shutting down, no new background work")
        task = asyncio.create_task(coro, name=f"{self.name}:{label}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float = 30.0) -> None:
        """Refuse new work, wait for running tasks, cancel what is left after `timeout`."""
        self._closed = True
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            log.warning("%s still running at shutdown; cancelled", task.get_name())
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def stop_task(task: asyncio.Task) -> None:
    """Cancel a loop that runs for the app's lifetime (retention, model following) and wait
    until it has really finished, so shutdown never leaves it running."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
