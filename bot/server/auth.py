"""Who may call the admin endpoints: a bearer token equal to the configured admin token,
compared in constant time. With no token configured the endpoints are disabled."""

from __future__ import annotations

import hmac
import logging
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app_keys import ADMIN_STORE, ADMIN_TOKEN
from bot.server.http_errors import RequestError, error_response
from bot.server.json_input import header_text
from bot.store import privacy

log = logging.getLogger(__name__)

TOKEN_MISSING = "admin endpoint requires an Authorization: Bearer token"
TOKEN_INVALID = "admin token is not valid"
DISABLED = "admin endpoint is disabled: no admin token is configured"
UNSUPPORTED = "the conversation store does not support privacy operations"

TOO_MANY_FAILURES = "too many invalid admin tokens from this address; retry in {seconds} s"
MAX_FAILURES_PER_MINUTE = 10

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FailedLogins:
    """Invalid admin tokens per client address in the last minute: beyond
    `MAX_FAILURES_PER_MINUTE` the address gets 429, so the token cannot be guessed fast.
    Bounded to the most recent addresses, like the other per-client counters."""

    def __init__(self, limit: int = MAX_FAILURES_PER_MINUTE, max_clients: int = 10_000):
        self.limit = limit
        self.max_clients = max_clients
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, client: str, now: float) -> int | None:
        """Seconds until `client` may try again, or None."""
        failures = self._failures.get(client)
        while failures and failures[0] <= now - 60:
            failures.popleft()
        if failures and len(failures) >= self.limit:
            return max(1, math.ceil(failures[0] + 60 - now))
        return None

    def record(self, client: str, now: float) -> None:
        self._failures.setdefault(client, deque()).append(now)
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)


FAILED_LOGINS = web.AppKey("failed_admin_logins", FailedLogins)


def maintained_store(request: web.Request) -> privacy.MaintainableStore:
    """The conversation log the admin endpoints maintain, when it supports maintenance
    (501 otherwise)."""
    store = request.app[ADMIN_STORE]
    if not isinstance(store, privacy.MaintainableStore):
        raise RequestError(UNSUPPORTED, status=501)
    return store


def admin_only(handler: Handler) -> Handler:
    """The handler, behind the admin token (401 without one, 403 with a wrong one)."""

    async def checked(request: web.Request) -> web.StreamResponse:
        refusal = token_refusal(request)
        if refusal is not None:
            return refusal
        maintained_store(request)
        return await handler(request)

    return checked


def token_refusal(request: web.Request) -> web.Response | None:
    """None when the request carries the admin token, else the response refusing it."""
    expected = request.app[ADMIN_TOKEN]
    if not expected:
        return error_response(403, DISABLED)
    client, now = request.remote or "unknown", time.monotonic()
    failures = request.app[FAILED_LOGINS]
    wait = failures.wait(client, now)
    if wait is not None:
        response = error_response(429, TOO_MANY_FAILURES.format(seconds=wait))
        response.headers["Retry-After"] = str(wait)
        return response
    given = bearer_token(request)
    if given is None:
        return missing_bearer(TOKEN_MISSING, realm="supportbot-admin")
    if not hmac.compare_digest(given.encode(), str(expected).encode()):
        failures.record(client, now)
        log.warning("admin token refused (client %s, %s %s)", client, request.method, request.path)
        return error_response(403, TOKEN_INVALID)
    return None


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None when there is none."""
    header = header_text(request.headers, "Authorization") or ""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    return given.strip()


def missing_bearer(reason: str, realm: str) -> web.Response:
    """The 401 for a request without a bearer token, naming the realm that wants one."""
    response = error_response(401, reason)
    response.headers["WWW-Authenticate"] = f'Bearer realm="{realm}"'
    return response
