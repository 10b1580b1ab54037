"""The inbound API for an external help desk that took a handoff through the webhook:
post its agent's message into the conversation, and release it to the bot. Authenticated
with the admin token, so an existing desk can be bridged without code changes.

    POST /agent/api/external/conversations/{id}/messages  {"agent": "Dana", "text": "..."}
    POST /agent/api/external/conversations/{id}/release
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from aiohttp import web

from bot.agents import queue
from bot.agents.desk import AGENT_DESK
from bot.app_keys import HANDOFF_LISTENERS, HANDOFF_STATES
from bot.channels.rest import parse_json_object
from bot.dialogue.state import HANDED_OFF
from bot.handoff.events import PersonMessage
from bot.server.auth import admin_only, maintained_store
from bot.server.http_errors import RequestError

NOT_HANDED_OFF = "conversation is not handed off: the bot answers it"
UNKNOWN = "conversation not found"
MAX_AGENT_CHARS = 80
BASE = "/agent/api/external/conversations/{conversation_id}"


def add_external_routes(app: web.Application, max_chars: int) -> None:
    app.router.add_post(f"{BASE}/messages", admin_only(_messages(max_chars)))
    app.router.add_post(f"{BASE}/release", admin_only(release))


def _channel(db: sqlite_utils.Database, conversation_id: str) -> str | None:
    row = db.execute("SELECT channel FROM conversations WHERE id = ?", [conversation_id]).fetchone()
    return row[0] if row else None


async def _handed_off_entry(request: web.Request) -> dict[str, Any]:
    conversation_id = request.match_info["conversation_id"]
    channel = await maintained_store(request).call(_channel, conversation_id)
    if channel is None:
        raise RequestError(UNKNOWN, status=404)
    state = await request.app[HANDOFF_STATES].load_state(conversation_id) or {}
    if state.get("status") != HANDED_OFF:
        raise RequestError(NOT_HANDED_OFF, status=409)
    return {"conversation_id": conversation_id, "channel": channel}


def _messages(max_chars: int):
    async def handler(request: web.Request) -> web.Response:
        body = parse_json_object(await request.read())
        agent, text = body.get("agent"), body.get("text")
        if not isinstance(agent, str) or not agent.strip() or len(agent) > MAX_AGENT_CHARS:
            raise RequestError(f'field "agent" must be a name of 1-{MAX_AGENT_CHARS} characters')
        if not isinstance(text, str) or not text.strip():
            raise RequestError('field "text" is required and must not be empty')
        if len(text) > max_chars:
            raise RequestError(f'field "text" is longer than {max_chars} characters')
        entry = await _handed_off_entry(request)
        desk = request.app[AGENT_DESK]
        actor = f"external:{agent.strip()}"
        message = PersonMessage(text.strip(), "agent", agent.strip())
        await desk.agents.call(queue.record, actor, "message", entry["conversation_id"])
        await desk.say(entry, message, actor)
        return web.json_response({"message": message.to_json()}, status=201)

    return handler


async def release(request: web.Request) -> web.Response:
    entry = await _handed_off_entry(request)
    conversation_id = entry["conversation_id"]
    desk = request.app[AGENT_DESK]
    await desk.agents.call(queue.record, "external", "released", conversation_id)
    await request.app[HANDOFF_STATES].set_handoff(conversation_id, take=False)
    await request.app[HANDOFF_LISTENERS].announce(conversation_id, False)
    return web.json_response({"conversation_id": conversation_id, "answered_by": "bot"})
