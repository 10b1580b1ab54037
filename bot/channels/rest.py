"""Rasa-compatible REST channel: POST /webhooks/rest/webhook with {"sender", "message"},
answered with Rasa's list of bot messages, so existing Rasa clients work unchanged.

The caller's `sender` names the conversation, but only in the REST channel's namespace:
ids the server makes for Slack and web chat are refused. With a token configured
(`channels.rest.token_env`), a caller must send it as `Authorization: Bearer ...`.
"""

from __future__ import annotations

import hmac
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING

from aiohttp import web

from bot.app_keys import MANAGER
from bot.channels.base import OTHER_CHANNELS_PREFIXES, InboundMessage, OutboundReply
from bot.handoff.events import PersonMessage, customer_deliveries
from bot.server.http_errors import RequestError, error_response
from bot.server.json_input import header_text, loads_checked

if TYPE_CHECKING:
    from bot.server.settings import ServerSettings

CHANNEL = "rest"
MAX_SENDER_CHARS = 128


SENDER_RESERVED = 'field "sender": ids beginning with {prefix!r} belong to another channel'
SENDER_UNPRINTABLE = (
    'field "sender" must not contain control or formatting characters (newlines, escapes, '
    "bidirectional marks)"
)
TOKEN_MISSING = "the REST channel requires an Authorization: Bearer token"
TOKEN_INVALID = "REST token is not valid"


class RestOutbox:
    """Agents' messages for REST customers, who have no push: held in memory and returned
    before the replies to the customer's next message (lost on a restart; in the log)."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[PersonMessage]] = {}

    async def deliver(self, conversation_id: str, message: PersonMessage) -> bool:
        self._waiting.setdefault(conversation_id, []).append(message)
        return True

    def take(self, conversation_id: str) -> list[PersonMessage]:
        return self._waiting.pop(conversation_id, [])


OUTBOX = web.AppKey("rest_outbox", RestOutbox)


def add_routes(app: web.Application, settings: ServerSettings) -> None:
    """Rasa's REST channel is always on; it has no lifecycle of its own."""
    app[OUTBOX] = outbox = RestOutbox()
    customer_deliveries(app).register(CHANNEL, outbox.deliver)
    app.router.add_get("/webhooks/rest/", rest_status)
    handler = _rest_webhook(settings.max_message_chars)
    if settings.rest_token:
        handler = bearer_only(handler, settings.rest_token)
    app.router.add_post("/webhooks/rest/webhook", handler)


def bearer_only(handler, token: str):
    """The handler behind `token` (401 without a bearer token, 403 with another one)."""
    expected = token.encode()

    async def checked(request: web.Request) -> web.StreamResponse:
        header = header_text(request.headers, "Authorization") or ""
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = error_response(401, TOKEN_MISSING)
            response.headers["WWW-Authenticate"] = 'Bearer realm="supportbot-rest"'
            return response
        if not hmac.compare_digest(given.strip().encode(), expected):
            return error_response(403, TOKEN_INVALID)
        return await handler(request)

    return checked


async def rest_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _rest_webhook(max_chars: int):
    async def handler(request: web.Request) -> web.Response:
        payload = await read_json_object(request)
        inbound = replace(parse_inbound(payload, max_chars), client_address=request.remote)
        replies = await request.app[MANAGER].handle(inbound)
        waiting = request.app[OUTBOX].take(inbound.sender_id)
        people = [_person(inbound.sender_id, message) for message in waiting]
        return web.json_response([*people, *render(inbound.sender_id, replies)])

    return handler


async def read_json_object(request: web.Request) -> dict:
    return parse_json_object(await request.read())


def parse_json_object(body: bytes) -> dict:
    """A request body that must be one JSON object; `RequestError` (400) says what is wrong."""
    payload = loads_checked(body)
    if not isinstance(payload, dict):
        raise RequestError("request body must be a JSON object")
    return payload


def parse_inbound(payload: dict, max_chars: int) -> InboundMessage:
    sender = payload.get("sender")
    message = payload.get("message")
    if not isinstance(sender, str) or not sender.strip():
        raise RequestError('field "sender" is required and must be a non-empty string')
    if len(sender) > MAX_SENDER_CHARS:
        raise RequestError(f'field "sender" is longer than {MAX_SENDER_CHARS} characters')
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in sender):
        raise RequestError(SENDER_UNPRINTABLE)
    for prefix in OTHER_CHANNELS_PREFIXES:
        if sender.startswith(prefix):
            raise RequestError(SENDER_RESERVED.format(prefix=prefix))
    if not isinstance(message, str):
        raise RequestError('field "message" is required and must be a string')
    if not message.strip():
        raise RequestError('field "message" is empty')
    if len(message) > max_chars:
        raise RequestError(f'field "message" is longer than {max_chars} characters')
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RequestError('field "metadata" must be a JSON object')
    return InboundMessage(sender_id=sender, text=message, channel=CHANNEL, metadata=metadata)


def _person(recipient_id: str, message: PersonMessage) -> dict:
    """An agent's message in Rasa's format, who sent it under `custom`."""
    custom = {"kind": message.kind, "agent": message.agent, "at": message.at}
    return {"recipient_id": recipient_id, "text": message.text, "custom": custom}


def render(recipient_id: str, replies: list[OutboundReply]) -> list[dict]:
    rendered = []
    for reply in replies:
        item: dict[str, object] = {"recipient_id": recipient_id, "text": reply.text}
        if reply.buttons:
            item["buttons"] = [{"title": b.title, "payload": b.payload} for b in reply.buttons]
        rendered.append(item)
    return rendered
