"""Admission control: a bounded number of turns in progress, and a drain on shutdown.

Every channel shares one `AdmissionGate`, so memory cannot grow with the queue: a request
beyond `max_pending` turns is answered at once with HTTP 503 and `Retry-After` instead of
waiting. Closing the gate (on SIGTERM) rejects new turns the same way while the admitted
ones finish, so a load balancer retries elsewhere and no logged turn is lost.

HTTP requests are counted by the `admission` middleware: every request that can start a
turn (any method but GET/HEAD/OPTIONS, outside `/admin/`), and only once its body has
arrived: the body is read first, under a size limit and a timeout, with a limit per client
address on bodies still arriving (`BodyLimits`). Channels that run turns outside
a request (a websocket, work acknowledged first and answered later) hold
`gate.admit()` around each turn instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from aiohttp import web

from bot.server.http_errors import RequestError, error_response

log = logging.getLogger(__name__)

UNGATED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UNGATED_PREFIXES = ("/admin/",)
BUSY = "server busy: {limit} turns already in progress; retry later"
CLOSING = "server shutting down: not accepting new turns; retry later"
TOO_LARGE = "request body is larger than {limit} bytes"
BODY_TIMEOUT = "request body did not arrive within {seconds} seconds"
TOO_MANY_SLOW = (
    "too many requests from this address are still sending their body (at most {limit}); "
    "retry later"
)
LINGERING_SECONDS = 2.0
"""After refusing a body, how long aiohttp reads and discards the rest before closing (its
default is 10 s, which would let a refused slow client hold its connection that long)."""
SLOW_GRACE_SECONDS = 0.5
"""How long a client at its limit of slow bodies may take to send one more body."""


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


@dataclass(frozen=True)
class BodyLimits:
    """How a request body must arrive before its request is admitted as a turn."""

    max_bytes: int = 64 * 1024
    timeout_seconds: float = 10.0
    """A body that has not fully arrived by then gets 408."""
    slow_per_client: int = 16
    """Requests one client address may have with their body still arriving."""


class SlowBodies:
    """Counts, per client address, the requests whose body is still arriving, so a few
    addresses trickling bytes cannot hold every connection the server has."""

    def __init__(self, per_client: int):
        self.per_client = per_client
        self.reading: Counter[str] = Counter()

    def full(self, client: str) -> bool:
        return self.reading[client] >= self.per_client

    @contextmanager
    def counted(self, client: str) -> Iterator[None]:
        self.reading[client] += 1
        try:
            yield
        finally:
            self.reading[client] -= 1
            if not self.reading[client]:
                del self.reading[client]


async def read_body(request: web.Request, limits: BodyLimits, slow: SlowBodies) -> None:
    """Read the whole body (aiohttp keeps it for the handler) or raise `RequestError`:
    413 for a declared or actual size beyond the limit, 408 when it does not arrive in
    time, 429 when the client already has its share of slow bodies and this one is slow
    too. A body already here (the usual case) is read without waiting or counting."""
    length = request.content_length
    if length is not None and length > limits.max_bytes:
        raise RequestError(TOO_LARGE.format(limit=limits.max_bytes), status=413)
    if request.content.is_eof():
        await request.read()
        return
    client = request.remote or "unknown"
    if slow.full(client):
        await _read_within(request, SLOW_GRACE_SECONDS, TOO_MANY_SLOW.format(limit=slow.per_client))
        return
    with slow.counted(client):
        timeout = limits.timeout_seconds
        await _read_within(request, timeout, BODY_TIMEOUT.format(seconds=f"{timeout:g}"), 408)


async def _read_within(
    request: web.Request, seconds: float, reason: str, status: int = 429
) -> None:
    try:
        async with asyncio.timeout(seconds):
            await request.read()
    except TimeoutError:
        raise RequestError(reason, status=status) from None
    except web.HTTPRequestEntityTooLarge:
        raise RequestError(TOO_LARGE.format(limit=request.client_max_size), status=413) from None


def admission_middleware(limits: BodyLimits):
    """Read the body under `limits`, then count the request as a turn for as long as its
    handler runs (503 when full). A client still sending its body holds no place at the
    gate, so slow clients cannot lock out the rest."""
    slow = SlowBodies(limits.slow_per_client)

    @web.middleware
    async def admission(request: web.Request, handler) -> web.StreamResponse:
        if request.method in UNGATED_METHODS:
            return await handler(request)
        try:
            await read_body(request, limits, slow)
        except RequestError as refused:
            response = error_response(refused.status, refused.reason)
            response.force_close()  # no keep-alive: the rest of the body is not wanted
            return response
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

    return admission


def add_admission(
    app: web.Application,
    gate: AdmissionGate,
    shutdown_timeout: float,
    limits: BodyLimits | None = None,
) -> None:
    """Install the gate and the body limits on `app`; on shutdown the gate is closed and
    drained (a no-op when the CLI has drained it already, see `drain`)."""
    app[GATE] = gate
    app.middlewares.append(admission_middleware(limits or BodyLimits()))

    async def close_gate(app: web.Application) -> None:
        await gate.close(shutdown_timeout)

    app.on_shutdown.append(close_gate)


async def drain(app: web.Application, timeout: float) -> bool:
    """Close the app's gate while the server still listens: new turns get 503 with
    `Retry-After`, admitted ones finish. Call before `AppRunner.cleanup()`."""
    return await app[GATE].close(timeout)
