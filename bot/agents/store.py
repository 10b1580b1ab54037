"""The agents' tables, off the event loop: one connection and one worker thread, like the
state store. Agent actions are rare next to turns, so they do not share the log's writer;
WAL and the busy timeout let both write the same file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.agents.tables import open_agent_db

T = TypeVar("T")


class AgentStore:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-agents")
        self._db = self._executor.submit(open_agent_db, self.path).result()

    @classmethod
    async def open(cls, path: str | Path) -> AgentStore:
        return await asyncio.to_thread(cls, path)

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """`func(db, *args)` on the store's thread and connection."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, func, self._db, *args
        )

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.conn.close)
        self._executor.shutdown(wait=True)
