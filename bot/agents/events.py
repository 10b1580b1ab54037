"""Live news for open consoles: queue changes, customers' messages as they arrive, agents'
messages. Held in memory only and fanned out to each console's server-sent-events stream;
a console that falls behind loses its oldest events, never blocks the customer's turn."""

from __future__ import annotations

import asyncio
from typing import Any

QUEUE_LIMIT = 256


class ConsoleEvents:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_LIMIT)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._subscribers.discard(queue)

    def publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def close(self) -> None:
        """Ends every open stream (server shutdown), so none holds the shutdown up."""
        self.publish(CLOSING)


CLOSING: dict[str, Any] = {"type": "closing"}
