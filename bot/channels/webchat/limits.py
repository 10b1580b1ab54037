"""How many new web chat sessions one client may open: every session is a row in the log
file, so without a limit one script could fill the disk with them.

A sliding window of the last minute per client address, in process memory and bounded to
the most recently seen clients, so a flood of addresses cannot grow it without limit. One
event loop drives it: no locks.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from bot.server.http_errors import RequestError

WINDOW_SECONDS = 60.0
MAX_TRACKED_CLIENTS = 10_000
LIMIT_KEY = "channels.webchat.sessions_per_minute"


def limit_reason(per_minute: int) -> str:
    return (
        f"too many new chat sessions from this client: at most {per_minute} per minute "
        f"({LIMIT_KEY})"
    )


class SessionLimitReached(RequestError):
    """HTTP 429; `retry_after` is whole seconds until the client may open one again."""

    def __init__(self, per_minute: int, retry_after: int):
        super().__init__(limit_reason(per_minute), status=429)
        self.retry_after = retry_after


class SessionRateLimiter:
    """Counts the sessions issued to each client in the last minute; `clock` is injectable."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = MAX_TRACKED_CLIENTS,
    ):
        self.per_minute = per_minute
        self.clock = clock
        self.max_clients = max_clients
        self._issued: OrderedDict[str, deque[float]] = OrderedDict()

    def admit(self, client: str) -> None:
        """Count one new session for `client`, or raise SessionLimitReached without counting."""
        now = self.clock()
        issued = self._issued.pop(client, None) or deque()
        self._issued[client] = issued
        while len(self._issued) > self.max_clients:
            self._issued.popitem(last=False)
        while issued and issued[0] <= now - WINDOW_SECONDS:
            issued.popleft()
        if len(issued) >= self.per_minute:
            wait = issued[0] + WINDOW_SECONDS - now
            raise SessionLimitReached(self.per_minute, max(1, math.ceil(wait)))
        issued.append(now)
