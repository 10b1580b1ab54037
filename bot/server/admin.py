"""Authenticated admin endpoints: privacy operations and human handoff.

`DELETE /admin/senders/{sender_id}` forgets a customer; `POST
/admin/conversations/{conversation_id}/opt-out` keeps a conversation out of retraining.
Both need `Authorization: Bearer <token>` matching the configured admin token (compared
in constant time); with no token configured the endpoints are disabled.
"""

from __future__ import annotations

from aiohttp import web

from bot.app_keys import ADMIN_STORE, ADMIN_TOKEN, HANDOFF_LISTENERS, HANDOFF_STATES
from bot.handoff.events import handoff_listeners
from bot.server.auth import FAILED_LOGINS, FailedLogins, admin_only, maintained_store
from bot.server.http_errors import RequestError
from bot.store import privacy
from bot.store.conversation_log import ConversationStore

HANDOFF_ACTIONS = ("take", "release")


def add_admin_routes(app: web.Application, token: str | None, store: ConversationStore) -> None:
    app[ADMIN_TOKEN] = token
    app[ADMIN_STORE] = store
    app[FAILED_LOGINS] = FailedLogins()
    handoff_listeners(app)
    app.router.add_delete("/admin/senders/{sender_id}", admin_only(forget))
    app.router.add_post("/admin/conversations/{conversation_id}/opt-out", admin_only(opt_out))
    app.router.add_get("/admin/handoffs", admin_only(list_handoffs))
    app.router.add_post(
        "/admin/conversations/{conversation_id}/handoff", admin_only(change_handoff)
    )


def _actor(request: web.Request) -> str:
    return f"admin-api:{request.remote or 'unknown'}"


async def forget(request: web.Request) -> web.Response:
    store = maintained_store(request)
    report = await privacy.forget_sender(store, request.match_info["sender_id"], _actor(request))
    return web.json_response({"status": "forgotten", **report.to_json()})


async def opt_out(request: web.Request) -> web.Response:
    store = maintained_store(request)
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
