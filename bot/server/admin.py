"""Authenticated admin endpoints: privacy operations and human handoff.

`DELETE /admin/senders/{sender_id}` forgets a customer; `POST
/admin/conversations/{conversation_id}/opt-out` keeps a conversation out of retraining.
Both need `Authorization: Bearer <token>` matching the configured admin token (compared
in constant time); with no token configured the endpoints are disabled.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.handoff.events import HANDOFF_LISTENERS, handoff_listeners
from bot.server.http_errors import RequestError, error_response
from bot.store import privacy

ADMIN_STORE = web.AppKey("admin_store", object)
ADMIN_TOKEN = web.AppKey("admin_token", object)
HANDOFF_STATES = web.AppKey("handoff_states", object)
HANDOFF_ACTIONS = ("take", "release")
TOKEN_MISSING = "admin endpoint requires an Authorization: Bearer token"
TOKEN_INVALID = "admin token is not valid"
DISABLED = "admin endpoint is disabled: no admin token is configured"
UNSUPPORTED = "the conversation store does not support privacy operations"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_admin_routes(app: web.Application, token: str | None, store: object) -> None:
    app[ADMIN_TOKEN] = token
    app[ADMIN_STORE] = store
    handoff_listeners(app)
    app.router.add_delete("/admin/senders/{sender_id}", _authenticated(forget))
    app.router.add_post("/admin/conversations/{conversation_id}/opt-out", _authenticated(opt_out))
    app.router.add_get("/admin/handoffs", _authenticated(list_handoffs))
    app.router.add_post(
        "/admin/conversations/{conversation_id}/handoff", _authenticated(change_handoff)
    )


def _authenticated(handler: Handler) -> Handler:
    async def checked(request: web.Request) -> web.StreamResponse:
        expected = request.app[ADMIN_TOKEN]
        if not expected:
            return error_response(403, DISABLED)
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = error_response(401, TOKEN_MISSING)
            response.headers["WWW-Authenticate"] = 'Bearer realm="supportbot-admin"'
            return response
        if not hmac.compare_digest(given.strip().encode(), str(expected).encode()):
            return error_response(403, TOKEN_INVALID)
        if not isinstance(request.app[ADMIN_STORE], privacy.MaintainableStore):
            raise RequestError(UNSUPPORTED, status=501)
        return await handler(request)

    return checked


def _actor(request: web.Request) -> str:
    return f"admin-api:{request.remote or 'unknown'}"


async def forget(request: web.Request) -> web.Response:
    store = request.app[ADMIN_STORE]
    report = await privacy.forget_sender(store, request.match_info["sender_id"], _actor(request))
    return web.json_response({"status": "forgotten", **report.to_json()})


async def opt_out(request: web.Request) -> web.Response:
    store = request.app[ADMIN_STORE]
    conversation = request.match_info["conversation_id"]
    if not await privacy.opt_out(store, conversation, _actor(request)):
        raise RequestError("conversation not found", status=404)
    return web.json_response({"status": "opted_out"})


async def list_handoffs(request: web.Request) -> web.Response:
    """Conversations a person owns now, longest waiting first."""
    return web.json_response({"handoffs": await request.app[HANDOFF_STATES].handed_off()})


async def change_handoff(request: web.Request) -> web.Response:
    """`{"action": "take"}` hands the conversation to a person (the bot goes silent);
    `{"action": "release"}` gives it back to the bot. Subscribed channels are told at once."""
    try:
        body = await request.json()
    except ValueError as exc:
        raise RequestError("body: expected a JSON object") from exc
    action = body.get("action") if isinstance(body, dict) else None
    if action not in HANDOFF_ACTIONS:
        raise RequestError("action: expected 'take' or 'release'")
    conversation = request.match_info["conversation_id"]
    taken = action == "take"
    if not await request.app[HANDOFF_STATES].set_handoff(conversation, take=taken):
        raise RequestError("conversation not found", status=404)
    await request.app[HANDOFF_LISTENERS].announce(conversation, taken)
    owner = "agent" if taken else "bot"
    return web.json_response({"conversation_id": conversation, "answered_by": owner})
