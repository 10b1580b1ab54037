"""Who may call the admin endpoints: a bearer token equal to the configured admin token,
compared in constant time. With no token configured the endpoints are disabled."""

from __future__ import annotations

import hmac
import logging
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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    header = header_text(request.headers, "Authorization") or ""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = error_response(401, TOKEN_MISSING)
        response.headers["WWW-Authenticate"] = 'Bearer realm="supportbot-admin"'
        return response
    if not hmac.compare_digest(given.strip().encode(), str(expected).encode()):
        log.warning(
            "admin token refused (client %s, %s %s)", request.remote, request.method, request.path
        )
        return error_response(403, TOKEN_INVALID)
    return None
