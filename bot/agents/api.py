"""The agent console at /agent and the JSON API under /agent/api/ that drives it.

Every endpoint but login needs an agent: a console session cookie (POSTs also carry the
session's CSRF token in `X-CSRF-Token`) or `Authorization: Bearer NAME:SECRET`. A refused
request changes nothing and logs nothing. docs/handoff.md lists the endpoints.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot import STATIC
from bot.agents import accounts, assist, queue
from bot.agents.accounts import Agent
from bot.agents.desk import AGENT_DESK, AgentDesk, desk_context
from bot.agents.events import CLOSING
from bot.agents.external import add_external_routes
from bot.agents.sessions import CSRF_HEADER, SESSION_COOKIE, AgentSessions, LoginLimiter
from bot.app_keys import ANALYSE, DEPS
from bot.channels.rest import parse_json_object
from bot.server.http_errors import RequestError, error_response

if TYPE_CHECKING:
    from bot.server.settings import ServerSettings

SIGN_IN = "sign in first: no agent session or bearer token"
WRONG_SECRET = "agent name or secret is not valid"
DISABLED = "agent account is disabled"
CSRF_MISSING = f"header {CSRF_HEADER!r} is missing or does not match the session"
TOO_MANY = "too many failed logins from this address; retry in {seconds} s"
HEARTBEAT_SECONDS = 15.0
MAX_NOTE_CHARS = 4000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSIONS = web.AppKey("agent_sessions", AgentSessions)
LOGINS = web.AppKey("agent_logins", LoginLimiter)
MAX_CHARS = web.AppKey("agent_max_chars", int)


def add_routes(app: web.Application, settings: ServerSettings) -> AgentDesk:
    """Mount the console and its API; returns the desk the dialogue runtime is given."""
    desk = app[AGENT_DESK] = AgentDesk(settings.dialogue.handoff)
    app[SESSIONS] = AgentSessions()
    app[LOGINS] = LoginLimiter()
    app[MAX_CHARS] = settings.max_message_chars
    app.cleanup_ctx.append(desk_context)
    app.on_shutdown.append(_end_streams)
    router = app.router
    router.add_get("/agent", _static("agent.html"))
    router.add_get("/agent/console.js", _static("agent.js"))
    router.add_get("/agent/console.css", _static("agent.css"))
    router.add_post("/agent/api/login", login)
    router.add_post("/agent/api/logout", signed_in(logout))
    router.add_get("/agent/api/me", signed_in(me))
    router.add_get("/agent/api/events", signed_in(events))
    router.add_get("/agent/api/conversations", signed_in(conversations))
    base = "/agent/api/conversations/{conversation_id}"
    router.add_get(base, signed_in(transcript))
    router.add_get(f"{base}/suggestions", signed_in(suggest))
    for name, handler in (
        ("claim", claim),
        ("messages", send_message),
        ("release", release),
        ("resolve", resolve),
        ("notes", add_note),
        ("transfer", transfer),
    ):
        router.add_post(f"{base}/{name}", signed_in(handler))
    add_external_routes(app, settings.max_message_chars)
    return desk


async def _end_streams(app: web.Application) -> None:
    app[AGENT_DESK].events.close()


def _static(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return handler


def signed_in(handler: Handler) -> Handler:
    """The handler, for an agent whose account is active (401/403 otherwise)."""

    async def checked(request: web.Request) -> web.StreamResponse:
        try:
            name = await _caller(request)
            agent = await _desk(request).agents.call(accounts.find_agent, name)
            if agent is None:
                raise RequestError(SIGN_IN, status=401)
            if agent.disabled:
                raise RequestError(DISABLED, status=403)
        except RequestError as exc:
            return error_response(exc.status, exc.reason)
        request["agent"] = agent
        _desk(request).touch(agent.name)
        return await handler(request)

    return checked


async def _caller(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await _bearer_agent(request, token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    session = request.app[SESSIONS].get(cookie) if cookie else None
    if session is None:
        raise RequestError(SIGN_IN, status=401)
    if request.method == "POST" and request.headers.get(CSRF_HEADER) != session.csrf:
        raise RequestError(CSRF_MISSING, status=403)
    return session.agent


async def _bearer_agent(request: web.Request, token: str) -> str:
    sessions = request.app[SESSIONS]
    trusted = sessions.trusted_bearer(token)
    if trusted is not None:
        return trusted
    name, _, secret = token.partition(":")
    agent = await _verified(request, name, secret)
    sessions.trust_bearer(token, agent.name)
    return agent.name


async def _verified(request: web.Request, name: str, secret: str) -> Agent:
    limiter = request.app[LOGINS]
    client = request.remote or "unknown"
    wait = limiter.retry_after(client)
    if wait is not None:
        raise RequestError(TOO_MANY.format(seconds=wait), status=429)
    agent = await _desk(request).agents.call(accounts.verify_secret, name, secret)
    if agent is None:
        limiter.failed(client)
        raise RequestError(WRONG_SECRET, status=401)
    if agent.disabled:
        raise RequestError(DISABLED, status=403)
    return agent


def _desk(request: web.Request) -> AgentDesk:
    return request.app[AGENT_DESK]


def _agent(request: web.Request) -> Agent:
    return request["agent"]


async def _json(request: web.Request) -> dict[str, Any]:
    body = await request.read()
    return parse_json_object(body) if body.strip() else {}


def _text_field(body: dict[str, Any], max_chars: int) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise RequestError('field "text" is required and must be a string')
    if not text.strip():
        raise RequestError('field "text" is empty')
    if len(text) > max_chars:
        raise RequestError(f'field "text" is longer than {max_chars} characters')
    return text.strip()


async def login(request: web.Request) -> web.Response:
    body = parse_json_object(await request.read())
    name, secret = body.get("name"), body.get("secret")
    if not isinstance(name, str) or not isinstance(secret, str) or not name or not secret:
        raise RequestError('fields "name" and "secret" are required strings')
    agent = await _verified(request, name, secret)
    token, session = request.app[SESSIONS].open(agent.name)
    _desk(request).touch(agent.name)
    await _desk(request).agents.call(queue.record, agent.name, "login", None)
    response = web.json_response({"agent": agent.to_json(), "csrf": session.csrf})
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/agent", max_age=8 * 3600
    )
    return response


async def logout(request: web.Request) -> web.Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        request.app[SESSIONS].close(cookie)
    _desk(request).leave(_agent(request).name)
    response = web.json_response({"status": "signed_out"})
    response.del_cookie(SESSION_COOKIE, path="/agent")
    return response


async def me(request: web.Request) -> web.Response:
    return web.json_response({"agent": _agent(request).to_json()})


async def conversations(request: web.Request) -> web.Response:
    """Waiting conversations oldest first, then claimed ones, with the bot's summary."""
    entries = await _desk(request).agents.call(queue.open_entries)
    now = time.time()
    listed = [_listed(entry, now) for entry in entries]
    return web.json_response({"conversations": listed, "agents_present": _desk(request).present()})


def _listed(entry: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "conversation_id": entry["conversation_id"],
        "channel": entry["channel"],
        "reason": entry["reason"],
        "status": entry["status"],
        "agent": entry["agent"],
        "requested_at": entry["requested_at"],
        "wait_seconds": round(now - entry["requested_at"], 1),
        "summary": entry["summary"],
    }


async def transcript(request: web.Request) -> web.Response:
    """The stored (redacted) transcript with the notes; live messages come as events."""
    desk = _desk(request)
    conversation_id = request.match_info["conversation_id"]
    entry = await desk.agents.call(queue.entry, conversation_id)
    if entry is None:
        raise RequestError(queue_missing(), status=404)
    rows = await request.app[DEPS].store.history(conversation_id, 200)
    notes = await desk.agents.call(queue.notes, conversation_id)
    return web.json_response(
        {
            "conversation": _listed(entry, time.time()),
            "transcript": transcript_items(rows),
            "notes": notes,
        }
    )


def queue_missing() -> str:
    from bot.agents.desk import NOT_QUEUED

    return NOT_QUEUED


def transcript_items(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Logged turns as one list of utterances: customer, bot, agent and notices, in order."""
    items: list[dict[str, Any]] = []
    for row in rows:
        if row.get("message"):
            items.append({"speaker": "customer", "text": row["message"], "at": row["created_at"]})
        for reply in row.get("responses") or []:
            kind = reply.get("kind") or "bot"
            speaker = {"agent": "agent", "notice": "notice"}.get(kind, "bot")
            items.append(
                {
                    "speaker": speaker,
                    "text": reply.get("text") or "",
                    "agent": reply.get("agent"),
                    "at": row["created_at"],
                }
            )
    return items


async def suggest(request: web.Request) -> web.Response:
    """Agent assist for the conversation's last customer message (bot/agents/assist.py)."""
    entry = await _desk(request).open_entry(request.match_info["conversation_id"])
    rows = await request.app[DEPS].store.history(entry["conversation_id"], 20)
    said = [row["message"] for row in rows if row.get("message")]
    last = said[-1] if said else entry["summary"].get("last_customer_message") or ""
    found = await assist.suggestions(request.app[DEPS].model, request.app[ANALYSE], last)
    return web.json_response({"suggestions": found})


async def claim(request: web.Request) -> web.Response:
    entry = await _desk(request).claim(_agent(request), request.match_info["conversation_id"])
    return web.json_response({"conversation": _listed(entry, time.time())})


async def send_message(request: web.Request) -> web.Response:
    text = _text_field(await _json(request), request.app[MAX_CHARS])
    message = await _desk(request).send(
        _agent(request), request.match_info["conversation_id"], text
    )
    return web.json_response({"message": message.to_json()}, status=201)


async def release(request: web.Request) -> web.Response:
    body = await _json(request)
    survey = body.get("survey", False)
    if not isinstance(survey, bool):
        raise RequestError('field "survey" must be true or false')
    conversation_id = request.match_info["conversation_id"]
    await _desk(request).release(_agent(request), conversation_id, "released", survey)
    return web.json_response({"conversation_id": conversation_id, "answered_by": "bot"})


async def resolve(request: web.Request) -> web.Response:
    conversation_id = request.match_info["conversation_id"]
    await _desk(request).release(_agent(request), conversation_id, "resolved")
    return web.json_response({"conversation_id": conversation_id, "answered_by": "bot"})


async def add_note(request: web.Request) -> web.Response:
    text = _text_field(await _json(request), MAX_NOTE_CHARS)
    desk = _desk(request)
    conversation_id = request.match_info["conversation_id"]
    await desk.open_entry(conversation_id)
    note = await desk.agents.call(queue.add_note, conversation_id, _agent(request).name, text)
    return web.json_response({"note_id": note}, status=201)


async def transfer(request: web.Request) -> web.Response:
    """`{"agent": NAME}` hands the conversation to another agent; `{"agent": null}` puts it
    back in the queue (unassign)."""
    body = await _json(request)
    to = body.get("agent")
    desk = _desk(request)
    if to is not None:
        target = await desk.agents.call(accounts.find_agent, to) if isinstance(to, str) else None
        if target is None or target.disabled:
            raise RequestError('field "agent": no such active agent')
    await desk.transfer(_agent(request), request.match_info["conversation_id"], to)
    return web.json_response(
        {"conversation_id": request.match_info["conversation_id"], "agent": to}
    )


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: queue changes and live messages, as they happen."""
    desk = _desk(request)
    agent = _agent(request).name
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    inbox = desk.events.subscribe()
    try:
        await response.write(b": connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(inbox.get(), HEARTBEAT_SECONDS)
                if event is CLOSING:
                    break
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
            desk.touch(agent)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        desk.events.unsubscribe(inbox)
    return response
