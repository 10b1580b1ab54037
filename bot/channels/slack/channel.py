"""The Slack channel: Events API and interactivity endpoints (or Socket Mode), replies
through the Web API (`chat.postMessage`) in the thread of the message.

Slack wants an answer within three seconds and retries otherwise, so a request is only
verified, claimed by event id (a retry finds the id taken) and acknowledged; the turn runs
in the background, owned by the channel and drained on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app_keys import DEPS, MANAGER
from bot.background_tasks import BackgroundTasks
from bot.channels.base import InboundMessage
from bot.channels.rest import parse_json_object
from bot.channels.slack import messages as sm
from bot.channels.slack.dedupe import SlackEventStore
from bot.channels.slack.settings import CONFIG_KEY, SlackSettings
from bot.channels.slack.verify import SlackRequestVerifier
from bot.dialogue.manager import DialogueManager
from bot.handoff.events import PersonMessage, customer_deliveries
from bot.server.http_errors import RequestError
from bot.server.json_input import loads_checked
from supportbot.errors import ConfigError

if TYPE_CHECKING:
    from bot.server.settings import ServerSettings

log = logging.getLogger(__name__)

EVENTS_PATH = "/webhooks/slack/events"
INTERACTIVE_PATH = "/webhooks/slack/interactive"
SLACK_ERRORS = (SlackApiError, aiohttp.ClientError, TimeoutError)


class SlackChannel:
    """Turns Slack events into dialogue turns and posts the replies back."""

    def __init__(
        self,
        settings: SlackSettings,
        manager: DialogueManager,
        web_client: AsyncWebClient,
        events: SlackEventStore,
    ):
        self.settings = settings
        self.manager = manager
        self.web = web_client
        self.events = events
        self.tasks = BackgroundTasks("slack")
        self.bot_user_id: str | None = None

    async def identify(self) -> None:
        """Learn the bot's own user id (auth.test), so its messages are never answered. A
        rejected token stops start-up; an unreachable Slack only delays this to the first
        event, which carries the id in `authorizations`."""
        try:
            response = await self.web.auth_test()
        except SlackApiError as exc:
            variable = self.settings.config.bot_token_env
            raise ConfigError(
                f"{CONFIG_KEY}.bot_token_env: Slack rejected the token in {variable} "
                f"({exc.response.get('error')})"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("slack auth.test failed (%s); bot id taken from events", type(exc).__name__)
            return
        self.bot_user_id = response.get("user_id")

    async def accept_event(self, payload: dict) -> None:
        """Claim an event_callback and start its turn; retries of a claimed event do nothing."""
        event = payload.get("event")
        event_id = payload.get("event_id")
        if payload.get("type") != "event_callback" or not isinstance(event, dict) or not event_id:
            return
        self._learn_bot_id(payload)
        kind = sm.event_kind(event, self.bot_user_id)
        if kind is None or not await self.events.claim(str(event_id)):
            return
        team = payload.get("team_id") or event.get("team") or ""
        target = sm.event_target(event, team, kind, self.settings.config.reply_in_thread)
        text = sm.strip_mention(event["text"], self.bot_user_id)
        message = sm.inbound(text, target, str(event_id))
        self.tasks.spawn(self._event_turn(kind, message, target), str(event_id))

    def _learn_bot_id(self, payload: dict) -> None:
        if self.bot_user_id is None:
            for authorization in payload.get("authorizations") or []:
                if authorization.get("is_bot") and authorization.get("user_id"):
                    self.bot_user_id = authorization["user_id"]

    async def _event_turn(self, kind: str, message: InboundMessage, target: sm.SlackTarget) -> None:
        if kind == sm.THREAD_MESSAGE:
            thread = target.thread_ts
            if thread is None or not await self.events.knows_thread(target.channel, thread):
                return
        elif kind == sm.MENTION and target.thread_ts:
            await self.events.remember_thread(target.channel, target.thread_ts)
        await self._turn(message, target)

    async def accept_interaction(self, payload: dict) -> None:
        """A quick-reply click: its payload becomes the user's message in the same thread."""
        button = sm.clicked_button(payload) if payload.get("type") == "block_actions" else None
        if button is None or not _has_ids(payload, "channel", "user"):
            return
        ref = f"action:{_click_id(payload, button)}"
        if not await self.events.claim(ref):
            return
        target = sm.interaction_target(payload)
        message = sm.inbound(button["value"], target, ref)
        self.tasks.spawn(self._interaction_turn(payload, button, message, target), ref)

    async def _interaction_turn(
        self, payload: dict, button: dict, message: InboundMessage, target: sm.SlackTarget
    ) -> None:
        await self._remove_buttons(payload, button)
        await self._turn(message, target)

    async def _remove_buttons(self, payload: dict, button: dict) -> None:
        original = payload.get("message") or {}
        title = (button.get("text") or {}).get("text") or button["value"]
        blocks = sm.answered_blocks(original.get("blocks") or [], title)
        try:
            await self.web.chat_update(
                channel=payload["channel"]["id"],
                ts=original.get("ts") or (payload.get("container") or {}).get("message_ts") or "",
                text=original.get("text") or "",
                blocks=blocks,
            )
        except SLACK_ERRORS as exc:
            log.error(
                "slack chat.update failed (channel %s, %s)", payload["channel"]["id"], _why(exc)
            )

    async def _turn(self, message: InboundMessage, target: sm.SlackTarget) -> None:
        replies = await self.manager.handle(message)
        for reply in replies:
            body = sm.message_body(reply)
            try:
                await self.web.chat_postMessage(
                    channel=target.channel, thread_ts=target.thread_ts, **body
                )
            except SLACK_ERRORS as exc:
                log.error(
                    "slack chat.postMessage failed (conversation %s, ref %s, %s)",
                    target.conversation_id,
                    message.metadata["slack"]["ref"],
                    _why(exc),
                )
                return

    async def deliver(self, conversation_id: str, message: PersonMessage) -> bool:
        """An agent's message (or a notice) posted once, in the conversation's thread, as
        the bot user with the agent's name in the text."""
        where = sm.conversation_place(conversation_id)
        if where is None:
            return False
        text = f"*{message.agent}*: {message.text}" if message.kind == "agent" else message.text
        try:
            await self.web.chat_postMessage(channel=where[0], thread_ts=where[1], text=text)
        except SLACK_ERRORS as exc:
            log.error(
                "slack agent message failed (conversation %s, %s)", conversation_id, _why(exc)
            )
            return False
        return True


SLACK = web.AppKey("slack_channel", SlackChannel)


def _click_id(payload: dict, button: dict) -> str:
    """What identifies one click, so a redelivered one is answered once: Slack's trigger id
    or action time, else the user, the message and the button (one click per button: the
    buttons are removed once answered)."""
    click_id = payload.get("trigger_id") or button.get("action_ts")
    if click_id:
        return str(click_id)
    message_ts = (payload.get("message") or {}).get("ts") or (payload.get("container") or {}).get(
        "message_ts"
    )
    return f"{payload['user']['id']}:{payload['channel']['id']}:{message_ts}:{button['value']}"


def _has_ids(payload: dict, *keys: str) -> bool:
    return all(isinstance(payload.get(key), dict) and payload[key].get("id") for key in keys)


def _why(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def add_routes(app: web.Application, server: ServerSettings) -> None:
    """Enable the Slack channel when configured: its endpoints (Events API mode) and a
    lifecycle that starts it after the dialogue runtime and drains it before that closes."""
    settings = server.slack
    if settings is None:
        return
    app.cleanup_ctx.append(_lifecycle(settings))

    async def deliver(conversation_id: str, message: PersonMessage) -> bool:
        channel = app.get(SLACK)
        return await channel.deliver(conversation_id, message) if channel else False

    customer_deliveries(app).register(sm.CHANNEL, deliver)
    if settings.config.mode == "events":
        verifier = SlackRequestVerifier(settings.signing_secret or "")
        app.router.add_post(EVENTS_PATH, _events_handler(verifier))
        app.router.add_post(INTERACTIVE_PATH, _interactive_handler(verifier))


def _lifecycle(settings: SlackSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            session = aiohttp.ClientSession()
            stack.push_async_callback(session.close)
            db_path = str(getattr(app[DEPS].store, "path", ":memory:"))
            events = SlackEventStore(db_path, settings.config.dedupe_ttl_hours * 3600)
            await events.open()
            stack.push_async_callback(events.close)
            web_client = AsyncWebClient(
                token=settings.bot_token, base_url=settings.config.api_url, session=session
            )
            channel = SlackChannel(settings, app[MANAGER], web_client, events)
            stack.push_async_callback(channel.tasks.drain)
            await channel.identify()
            app[SLACK] = channel
            if settings.config.mode == "socket":
                from bot.channels.slack.socket_mode import socket_mode

                await stack.enter_async_context(socket_mode(channel, settings.app_token or ""))
            yield

    return lifecycle


async def _verified_body(request: web.Request, verifier: SlackRequestVerifier) -> bytes:
    body = await request.read()
    verifier.verify(body, request.headers)
    return body


def _events_handler(verifier: SlackRequestVerifier):
    async def handler(request: web.Request) -> web.Response:
        payload = parse_json_object(await _verified_body(request, verifier))
        if payload.get("type") == "url_verification":
            return web.json_response({"challenge": payload.get("challenge")})
        await request.app[SLACK].accept_event(payload)
        return web.Response(status=200)

    return handler


def _interactive_handler(verifier: SlackRequestVerifier):
    async def handler(request: web.Request) -> web.Response:
        body = await _verified_body(request, verifier)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        if "payload" not in form:
            raise RequestError('form field "payload" is required and must be JSON')
        payload = loads_checked(form["payload"][0], 'form field "payload"')
        if not isinstance(payload, dict):
            raise RequestError('form field "payload" must be a JSON object')
        await request.app[SLACK].accept_interaction(payload)
        return web.Response(status=200)

    return handler
