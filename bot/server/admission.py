"""Admission control: a bounded number of turns in progress, and a drain on shutdown.

Every channel shares one `AdmissionGate`, so memory cannot grow with the queue: a request
beyond `max_pending` turns is answered at once with HTTP 503 and `Retry-After` instead of
waiting. Closing the gate (on SIGTERM) rejects new turns the same way while the admitted
ones finish, so a load balancer retries elsewhere and no logged turn is lost.

HTTP requests are counted by the `admission` middleware: every request that can start a
turn (any method but GET/HEAD/OPTIONS, outside `/admin/`). Channels that run turns outside
a request (a websocket, work acknowledged first and answered later) hold
`gate.admit()` around each turn instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from bot.server.http_errors import error_response

log = logging.getLogger(__name__)

UNGATED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNGATED_PREFIXES = ("/admin/",)
BUSY = "server busy: {limit} turns already in progress; retry later"
CLOSING = "server shutting down: not accepting new turns; retry later"


class Rejected(Exception):
    """A turn was not admitted; `reason` is safe to send to the client."""

    def __init__(self, reason: str, retry_after: int):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class AdmissionGate:
    """Counts turns in progress; admits up to `max_pending`, none once closing."""

    def __init__(self, max_pending: int = 256, retry_after_seconds: int = 1):
        if max_pending < 1:
            raise ValueError("max_pending_turns must be at least 1")
        self.max_pending = max_pending
        self.retry_after = retry_after_seconds
        self.in_flight = 0
        self.closing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        """Admit one turn or raise `Rejected`; synchronous, so nothing can slip in between
        the check and the count."""
        if self.closing:
            raise Rejected(CLOSING, self.retry_after)
        if self.in_flight >= self.max_pending:
            raise Rejected(BUSY.format(limit=self.max_pending), self.retry_after)
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a place for one turn (raises `Rejected` when there is none)."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    async def close(self, timeout: float) -> bool:
        """Stop admitting and wait up to `timeout` seconds for the admitted turns; False
        (and a warning) if some were still running. Safe to call twice."""
        self.closing = True
        try:
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        except TimeoutError:
            log.warning("shutdown: %d turns still running after %gs", self.in_flight, timeout)
            return False
        return True


GATE = web.AppKey("admission_gate", AdmissionGate)


def rejection_response(rejected: Rejected) -> web.Response:
    """The house JSON error with status 503 and a `Retry-After` header."""
    response = error_response(503, rejected.reason)
    response.headers["Retry-After"] = str(rejected.retry_after)
    return response


def gated(request: web.Request) -> bool:
    return request.method not in UNGATED_METHODS and not request.path.startswith(UNGATED_PREFIXES)


@web.middleware
async def admission(request: web.Request, handler) -> web.StreamResponse:
    """Count the request as a turn for as long as its handler runs; reject when full."""
    if not gated(request):
        return await handler(request)
    try:
        request.app[GATE].enter()
    except Rejected as rejected:
        return rejection_response(rejected)
    try:
        return await handler(request)
    finally:
        request.app[GATE].leave()


def add_admission(app: web.Application, gate: AdmissionGate, shutdown_timeout: float) -> None:
    """Install the gate on `app`; on shutdown it is closed and drained (a no-op when the
    CLI has drained it already, see `drain`)."""
    app[GATE] = gate
    app.middlewares.append(admission)

    async def close_gate(app: web.Application) -> None:
        await gate.close(shutdown_timeout)

    app.on_shutdown.append(close_gate)


async def drain(app: web.Application, timeout: float) -> bool:
    """Close the app's gate while the server still listens: new turns get 503 with
    `Retry-After`, admitted ones finish. Call before `AppRunner.cleanup()`."""
    return await app[GATE].close(timeout)
