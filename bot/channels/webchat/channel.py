"""The web chat channel: the embeddable widget, its WebSocket and a REST fallback.

A browser gets a session token from the server (kept in its localStorage) and the server
maps it to a conversation, so replies and history go only to sockets holding that token;
the client never names a conversation. Turns of one conversation run one at a time, and
every socket of the conversation (two tabs) sees the turn and the conversation's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, WSMsgType, web

from bot import STATIC, messages
from bot.app_keys import DEPS, GATE, HANDOFF_STATES, MANAGER
from bot.background_tasks import stop_task
from bot.channels.base import InboundMessage
from bot.channels.webchat.frames import (
    Feedback,
    FrameError,
    Hello,
    Message,
    decode_object,
    parse_feedback,
    parse_frame,
    parse_message,
)
from bot.channels.webchat.history import FEEDBACK_NAMES, live_turn, render_turns
from bot.channels.webchat.limits import SessionLimitReached, SessionRateLimiter
from bot.channels.webchat.sessions import WebchatSessions
from bot.dialogue.manager import DialogueManager
from bot.dialogue.state import HANDED_OFF
from bot.handoff.events import PersonMessage, customer_deliveries, handoff_listeners
from bot.server.admission import Rejected
from bot.server.http_errors import RequestError, error_response
from bot.server.json_input import header_text
from bot.store.conversation_log import ConversationStore
from supportbot.config.channels import WebchatSettings

if TYPE_CHECKING:
    from bot.server.settings import ServerSettings

log = logging.getLogger(__name__)

CHANNEL = "webchat"
TOKEN_HEADER = "X-Webchat-Token"
MAX_FRAME_BYTES = 64 * 1024
TOKEN_MISSING = f"header {TOKEN_HEADER!r} is required"
TOKEN_INVALID = "session token is not valid or has expired"
ORIGIN_REFUSED = "this origin may not use the web chat"
HELLO_FIRST = 'field "type": the first frame must be "hello"'
HELLO_TWICE = 'field "type": "hello" was already sent on this socket'
NO_SUCH_TURN = 'field "turn_id": no such turn in this conversation'
NO_FEEDBACK = "this conversation store does not keep feedback"
INTERNAL = "internal error; please try again"
IDLE_CLOSE = b"idle timeout"


def add_routes(app: web.Application, server: ServerSettings) -> None:
    """Mount the widget under /webchat (and the demo page at /) when enabled, with its
    lifecycle: sessions opened after the runtime, sockets closed on shutdown."""
    settings = server.webchat
    if not settings.enabled:
        return
    app[WEBCHAT] = channel = WebchatChannel(settings, server.max_message_chars)
    handoff_listeners(app).subscribe(channel.on_handoff)
    customer_deliveries(app).register(CHANNEL, channel.deliver)
    app.cleanup_ctx.append(_sessions_context)
    app.on_shutdown.append(_close_sockets)
    router = app.router
    router.add_get("/webchat/widget.js", _static_file("widget.js"))
    router.add_get("/webchat/widget.css", _static_file("widget.css"))
    if settings.demo_page:
        router.add_get("/", _static_file("demo.html"))
    router.add_get("/webchat/ws", websocket)
    router.add_post("/webchat/api/sessions", _api(new_session))
    router.add_get("/webchat/api/history", _api(history))
    router.add_post("/webchat/api/messages", _api(post_message))
    router.add_post("/webchat/api/feedback", _api(post_feedback))
    router.add_route("OPTIONS", "/webchat/api/{name}", _api(preflight))


class WebchatChannel:
    """Sessions, the sockets of each conversation, and the turn runner both transports use."""

    def __init__(self, settings: WebchatSettings, max_chars: int):
        self.settings = settings
        self.max_chars = max_chars
        self.sessions: WebchatSessions | None = None
        self.limiter = SessionRateLimiter(settings.sessions_per_minute)
        self.sockets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    @property
    def open_sessions(self) -> WebchatSessions:
        """The session table, opened when the app starts, before any request."""
        assert self.sessions is not None, "web chat sessions are opened at start-up"
        return self.sessions

    async def session(self, token: str | None, client: str) -> tuple[str, str, bool]:
        """(token, conversation id, is new): the token's session, or a fresh one if `client`
        (its address) is within its limit of new sessions."""
        conversation_id = await self.open_sessions.resolve(token) if token else None
        if token and conversation_id is not None:
            return token, conversation_id, False
        self.limiter.admit(client)
        token, conversation_id = await self.open_sessions.issue()
        return token, conversation_id, True

    async def welcome(self, app: web.Application, conversation_id: str) -> dict[str, Any]:
        store = _server_parts(app).store
        rows = await store.history(conversation_id, self.settings.history_turns)
        feedback = await store.feedback(conversation_id) if hasattr(store, "feedback") else {}
        return {
            "title": self.settings.title or messages.WEBCHAT_TITLE,
            "greeting": self.settings.greeting or messages.GREETING,
            "turns": render_turns(rows, feedback),
            "state": await self.state(app, conversation_id),
        }

    async def state(self, app: web.Application, conversation_id: str) -> dict[str, Any]:
        stored = await app[HANDOFF_STATES].load_state(conversation_id)
        return _handoff_state((stored or {}).get("status") == HANDED_OFF)

    async def on_handoff(self, conversation_id: str, taken: bool) -> None:
        """An agent took the conversation over or gave it back: its open widgets show or
        hide the notice at once, not only after the customer's next message."""
        frame = {"type": "handoff", "state": "agent" if taken else "bot", **_handoff_state(taken)}
        await self.broadcast(conversation_id, frame)

    async def deliver(self, conversation_id: str, message: PersonMessage) -> bool:
        """An agent's message or a notice, pushed to every open widget of the conversation;
        it is in the log already, so a widget that is closed finds it in its history."""
        await self.broadcast(conversation_id, {"type": "person", "message": message.to_json()})
        return True

    async def run_turn(
        self, app: web.Application, conversation_id: str, message: Message, client: str
    ) -> dict[str, Any]:
        """Handle one customer message; every socket of the conversation gets the typing
        signal, the turn and the state. Returns {"turn", "state"}."""
        parts = _server_parts(app)
        async with self._lock(conversation_id):
            await self.broadcast(conversation_id, {"type": "typing", "on": True})
            started = time.time()
            try:
                inbound = InboundMessage(
                    conversation_id, message.text, CHANNEL, client_address=client
                )
                replies = await parts.manager.handle(inbound)
                rows = await parts.store.history(conversation_id, 2)
            finally:
                await self.broadcast(conversation_id, {"type": "typing", "on": False})
            turn = live_turn(message.text, replies, rows, started, message.client_id)
            state = await self.state(app, conversation_id)
            await self.broadcast(conversation_id, {"type": "turn", "turn": turn})
            await self.broadcast(conversation_id, {"type": "state", **state})
        return {"turn": turn, "state": state}

    async def rate(self, app: web.Application, conversation_id: str, feedback: Feedback) -> None:
        store = _server_parts(app).store
        if not hasattr(store, "record_feedback"):
            raise RequestError(NO_FEEDBACK, status=501)
        if not await store.record_feedback(conversation_id, feedback.turn_id, feedback.value):
            raise RequestError(NO_SUCH_TURN, status=404)

    async def broadcast(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for ws in list(self.sockets.get(conversation_id, ())):
            await send(ws, frame)


WEBCHAT = web.AppKey("webchat", WebchatChannel)


def _handoff_state(handed_off: bool) -> dict[str, Any]:
    return {"handed_off": handed_off, "notice": messages.WEBCHAT_HANDOFF if handed_off else None}


class _Parts(NamedTuple):
    manager: DialogueManager
    store: ConversationStore


def _server_parts(app: web.Application) -> _Parts:
    """The dialogue manager and store the server set up."""
    return _Parts(app[MANAGER], app[DEPS].store)


async def _sessions_context(app: web.Application) -> AsyncIterator[None]:
    channel = app[WEBCHAT]
    path = getattr(app[DEPS].store, "path", ":memory:")
    ttl = channel.settings.session_ttl_days * 86400
    channel.sessions = await asyncio.to_thread(WebchatSessions, path, ttl)
    interval = channel.settings.session_purge_interval_seconds
    purging = asyncio.create_task(channel.sessions.purge_every(interval), name="webchat-purge")
    try:
        yield
    finally:
        await stop_task(purging)
        await channel.sessions.close()


async def _close_sockets(app: web.Application) -> None:
    sockets = [ws for group in app[WEBCHAT].sockets.values() for ws in group]
    await asyncio.gather(
        *(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for ws in sockets)
    )


async def send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    """Send unless the socket has gone; a closed tab is not an error."""
    if ws.closed:
        return
    try:
        await ws.send_json(frame)
    except (ConnectionError, RuntimeError):
        log.debug("web chat socket went away while sending")


async def websocket(request: web.Request) -> web.StreamResponse:
    channel = request.app[WEBCHAT]
    if not _origin_allowed(request):
        return error_response(403, ORIGIN_REFUSED)
    ws = web.WebSocketResponse(heartbeat=25, max_msg_size=MAX_FRAME_BYTES)
    await ws.prepare(request)
    conversation_id: str | None = None
    idle = channel.settings.idle_timeout_seconds
    try:
        while True:
            try:
                msg = await ws.receive(timeout=idle)
            except TimeoutError:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=IDLE_CLOSE)
                break
            if msg.type == WSMsgType.TEXT:
                conversation_id = await _on_frame(request, ws, conversation_id, msg.data)
            elif msg.type == WSMsgType.BINARY:
                await send(ws, {"type": "error", "error": "frames must be JSON text"})
            elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            elif msg.type == WSMsgType.ERROR:
                log.info("web chat socket error: %s", type(ws.exception()).__name__)
                break
    finally:
        if conversation_id is not None:
            channel.sockets[conversation_id].discard(ws)
            if not channel.sockets[conversation_id]:
                del channel.sockets[conversation_id]
    return ws


async def _on_frame(
    request: web.Request, ws: web.WebSocketResponse, conversation_id: str | None, raw: str
) -> str | None:
    """Act on one frame; returns the socket's conversation (set by "hello")."""
    app = request.app
    channel = app[WEBCHAT]
    try:
        frame = parse_frame(raw, channel.max_chars)
        if isinstance(frame, Hello):
            if conversation_id is not None:
                raise FrameError(HELLO_TWICE)
            token, conversation_id, new = await channel.session(frame.token, _client(request))
            channel.sockets[conversation_id].add(ws)
            welcome = await channel.welcome(app, conversation_id)
            await send(ws, {"type": "welcome", "token": token, "new": new, **welcome})
        elif conversation_id is None:
            raise FrameError(HELLO_FIRST)
        elif isinstance(frame, Message):
            async with _admitted(app):
                await channel.run_turn(app, conversation_id, frame, _client(request))
        elif isinstance(frame, Feedback):
            await channel.rate(app, conversation_id, frame)
            value = FEEDBACK_NAMES[frame.value]
            await send(ws, {"type": "feedback", "turn_id": frame.turn_id, "value": value})
        else:
            await send(ws, {"type": "pong"})
    except SessionLimitReached as exc:
        await send(ws, {"type": "error", "error": exc.reason, "retry_after": exc.retry_after})
    except (FrameError, RequestError, Rejected) as exc:
        await send(ws, {"type": "error", "error": exc.reason})
    except Exception:
        log.exception("web chat frame failed (conversation %s)", conversation_id)
        await send(ws, {"type": "error", "error": INTERNAL})
    return conversation_id


def _admitted(app: web.Application):
    """A socket's turn takes a place at the admission gate, as an HTTP turn does through
    the middleware (a WebSocket is one long GET, which the middleware does not count)."""
    gate = app.get(GATE)
    return gate.admit() if gate is not None else contextlib.nullcontext()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _client(request: web.Request) -> str:
    """Whom the session limit counts: the client's address; behind a reverse proxy listed
    in `server.trusted_proxies`, the one its X-Forwarded-For names (bot/forwarded.py)."""
    return request.remote or "unknown"


def _origin_allowed(request: web.Request) -> bool:
    """Configured origins, and always the bot's own pages (the demo page)."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc == request.host:
        return True
    return request.app[WEBCHAT].settings.allows(origin)


def _api(handler: Handler) -> Handler:
    """The REST fallback's origin check, CORS headers and error mapping, in one place."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not _origin_allowed(request):
            return error_response(403, ORIGIN_REFUSED)
        try:
            response = await handler(request)
        except (RequestError, FrameError) as exc:
            response = error_response(getattr(exc, "status", 400), exc.reason)
            if isinstance(exc, SessionLimitReached):
                response.headers["Retry-After"] = str(exc.retry_after)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Allow-Headers"] = f"Content-Type, {TOKEN_HEADER}"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Vary"] = "Origin"
        return response

    return wrapped


async def preflight(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def _conversation(request: web.Request) -> str:
    token = (header_text(request.headers, TOKEN_HEADER) or "").strip()
    if not token:
        raise RequestError(TOKEN_MISSING, status=401)
    conversation_id = await request.app[WEBCHAT].open_sessions.resolve(token)
    if conversation_id is None:
        raise RequestError(TOKEN_INVALID, status=401)
    return conversation_id


async def _body(request: web.Request) -> dict[str, Any]:
    return decode_object(await request.read(), "request body")


async def new_session(request: web.Request) -> web.Response:
    token, conversation_id, _ = await request.app[WEBCHAT].session(None, _client(request))
    welcome = await request.app[WEBCHAT].welcome(request.app, conversation_id)
    return web.json_response({"token": token, "new": True, **welcome}, status=201)


async def history(request: web.Request) -> web.Response:
    conversation_id = await _conversation(request)
    return web.json_response(await request.app[WEBCHAT].welcome(request.app, conversation_id))


async def post_message(request: web.Request) -> web.Response:
    conversation_id = await _conversation(request)
    channel = request.app[WEBCHAT]
    message = parse_message(await _body(request), channel.max_chars)
    turn = await channel.run_turn(request.app, conversation_id, message, _client(request))
    return web.json_response(turn)


async def post_feedback(request: web.Request) -> web.Response:
    conversation_id = await _conversation(request)
    feedback = parse_feedback(await _body(request))
    await request.app[WEBCHAT].rate(request.app, conversation_id, feedback)
    value = FEEDBACK_NAMES[feedback.value]
    return web.json_response({"turn_id": feedback.turn_id, "value": value})


def _static_file(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "public, max-age=300"})

    return handler
