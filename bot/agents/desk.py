"""The agents' desk: who is signed in, the handoff queue, and what an agent's claim, message
and release do to the customer's conversation.

A handoff is taken only while an agent is present (a console open, or an API call within
`PRESENCE_SECONDS`) or an external desk acknowledged the webhook; a waiting conversation
nobody claims within `dialogue.handoff.queue_timeout` goes back to the bot.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from bot import messages
from bot.agents import queue
from bot.agents.accounts import Agent
from bot.agents.events import ConsoleEvents
from bot.agents.store import AgentStore
from bot.app_keys import DEPS, HANDOFF_LISTENERS, HANDOFF_STATES, REDACT
from bot.background_tasks import stop_task
from bot.handoff.desk import HandoffOutcome, HandoffRequest, unavailable_notice
from bot.handoff.events import CUSTOMER_DELIVERIES, PersonMessage
from bot.handoff.notifier import HandoffNotifier
from bot.server.http_errors import RequestError
from bot.store.conversation_log import TurnRecord
from supportbot.config.dialogue import HandoffConfig

log = logging.getLogger(__name__)

PRESENCE_SECONDS = 60.0
"""An agent counts as signed in and available this long after their last sign of life."""
TIMEOUT_CHECK_SECONDS = 1.0
SURVEY_SCORE = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")

NOT_QUEUED = "conversation not found: it is not in the handoff queue"
RELEASED = "conversation was released to the bot"
NOT_WAITING = "conversation is already claimed by {agent}"
NOT_YOURS = "conversation is not claimed by you: claim it first"


class AgentDesk:
    def __init__(self, config: HandoffConfig):
        self.notifier = HandoffNotifier(config.webhook_url, config.webhook_timeout_seconds)
        """Replaced by the runtime's notifier when the runtime builds its memory."""
        self.config = config
        self.events = ConsoleEvents()
        self.store: AgentStore | None = None
        self.app: web.Application | None = None
        self._presence: dict[str, float] = {}
        self._surveys: set[str] = set()
        """Conversations whose customer was asked for a rating and has not answered."""

    # -- presence -------------------------------------------------------------------
    def touch(self, agent: str) -> None:
        self._presence[agent] = time.monotonic()

    def leave(self, agent: str) -> None:
        self._presence.pop(agent, None)

    def present(self) -> list[str]:
        cutoff = time.monotonic() - PRESENCE_SECONDS
        return sorted(name for name, seen in self._presence.items() if seen >= cutoff)

    @property
    def agents(self) -> AgentStore:
        assert self.store is not None, "the agents' store is opened at start-up"
        return self.store

    # -- the dialogue's side (bot.handoff.desk.HandoffDesk) ------------------------
    async def request(self, request: HandoffRequest) -> HandoffOutcome:
        delivered = await self.notifier.deliver(
            request.conversation_id, request.reason, request.transcript
        )
        if self.store is not None and self.present():
            place = await self.agents.call(
                queue.enqueue,
                request.conversation_id,
                request.channel,
                request.reason,
                request.summary,
            )
            self._queue_changed(request.conversation_id)
            return HandoffOutcome(True, messages.HANDOFF_QUEUE_PLACE.format(place=place))
        if delivered:
            return HandoffOutcome(True)
        return HandoffOutcome(False, unavailable_notice(self.config))

    async def customer_wrote(self, conversation_id: str, text: str) -> None:
        self.events.publish(
            {
                "type": "customer_message",
                "conversation_id": conversation_id,
                "text": text,
                "at": time.time(),
            }
        )

    async def cancel(self, conversation_id: str) -> bool:
        current = await self.agents.call(queue.entry, conversation_id)
        if current is None or current["status"] != queue.WAITING:
            return False
        closed = await self.agents.call(queue.close, conversation_id, "customer", "cancelled")
        self._queue_changed(conversation_id)
        return closed is not None

    async def survey_answer(self, conversation_id: str, text: str) -> bool:
        """Only the message right after the question counts; anything else lets it go."""
        if conversation_id not in self._surveys:
            return False
        self._surveys.discard(conversation_id)
        score = SURVEY_SCORE.match(text)
        if score is None:
            return False
        return await self.agents.call(queue.answer_survey, conversation_id, int(score[1]))

    async def close(self) -> None:
        await self.notifier.close()

    # -- the agents' side ------------------------------------------------------------
    async def open_entry(self, conversation_id: str) -> dict[str, Any]:
        """The queue entry, 404 when the conversation was never queued, 409 once closed."""
        current = await self.agents.call(queue.entry, conversation_id)
        if current is None:
            raise RequestError(NOT_QUEUED, status=404)
        if current["status"] == queue.CLOSED:
            raise RequestError(RELEASED, status=409)
        return current

    async def claim(self, agent: Agent, conversation_id: str) -> dict[str, Any]:
        current = await self.open_entry(conversation_id)
        if not await self.agents.call(queue.claim, conversation_id, agent.name):
            owner = (await self.agents.call(queue.entry, conversation_id) or current)["agent"]
            raise RequestError(NOT_WAITING.format(agent=owner), status=409)
        text = messages.AGENT_JOINED.format(agent=agent.display_name)
        await self.say(current, PersonMessage(text, "notice", agent.display_name), agent.name)
        self._queue_changed(conversation_id)
        return await self.open_entry(conversation_id)

    async def owned_entry(self, agent: Agent, conversation_id: str) -> dict[str, Any]:
        current = await self.open_entry(conversation_id)
        if current["status"] != queue.CLAIMED or current["agent"] != agent.name:
            raise RequestError(NOT_YOURS, status=409)
        return current

    async def send(self, agent: Agent, conversation_id: str, text: str) -> PersonMessage:
        current = await self.owned_entry(agent, conversation_id)
        message = PersonMessage(text, "agent", agent.display_name)
        await self.agents.call(queue.record, agent.name, "message", conversation_id)
        await self.say(current, message, agent.name)
        return message

    async def release(
        self, agent: Agent, conversation_id: str, outcome: str = "released", survey: bool = False
    ) -> None:
        current = await self.owned_entry(agent, conversation_id)
        await self.agents.call(queue.close, conversation_id, agent.name, outcome)
        text = messages.AGENT_LEFT.format(agent=agent.display_name)
        await self.say(current, PersonMessage(text, "notice", agent.display_name), agent.name)
        await self._back_to_bot(conversation_id)
        if survey:
            await self.agents.call(queue.ask_survey, conversation_id, agent.name)
            self._surveys.add(conversation_id)
            question = messages.SURVEY_QUESTION.format(agent=agent.display_name)
            await self.say(current, PersonMessage(question, "bot"), agent.name)

    async def transfer(self, agent: Agent, conversation_id: str, to: str | None) -> None:
        await self.owned_entry(agent, conversation_id)
        await self.agents.call(queue.transfer, conversation_id, agent.name, to)
        self._queue_changed(conversation_id)

    async def say(self, entry: dict[str, Any], message: PersonMessage, agent: str) -> None:
        """Log the message as the conversation's next turn (redacted, with the agent id),
        then deliver it to the customer's channel and tell the consoles."""
        app = self._app
        conversation_id = entry["conversation_id"]
        redacted = app[REDACT](message.text)
        await app[DEPS].store.log_turn(_agent_turn(entry, message, redacted, agent))
        await app[CUSTOMER_DELIVERIES].deliver(entry["channel"], conversation_id, message)
        self.events.publish(
            {"type": "agent_message", "conversation_id": conversation_id, **message.to_json()}
        )

    async def _back_to_bot(self, conversation_id: str) -> None:
        app = self._app
        await app[HANDOFF_STATES].set_handoff(conversation_id, take=False)
        await app[HANDOFF_LISTENERS].announce(conversation_id, False)
        self._queue_changed(conversation_id)

    async def time_out_waiting(self) -> int:
        """Conversations that waited past the queue timeout go back to the bot, told so."""
        cutoff = time.time() - self.config.queue_timeout
        overdue = await self.agents.call(queue.overdue, cutoff)
        for conversation_id in overdue:
            before = await self.agents.call(queue.close, conversation_id, "queue", "timeout")
            if before is None:
                continue
            await self.say(before, PersonMessage(messages.HANDOFF_QUEUE_TIMEOUT, "bot"), "queue")
            await self._back_to_bot(conversation_id)
        return len(overdue)

    def _queue_changed(self, conversation_id: str) -> None:
        self.events.publish({"type": "queue", "conversation_id": conversation_id})

    @property
    def _app(self) -> web.Application:
        assert self.app is not None, "the desk is started with the app"
        return self.app

    async def watch_timeouts(self) -> None:
        while True:
            await asyncio.sleep(TIMEOUT_CHECK_SECONDS)
            try:
                await self.time_out_waiting()
            except Exception:
                log.exception("handoff queue timeout check failed; retrying")


def _agent_turn(
    entry: dict[str, Any], message: PersonMessage, redacted: str, agent: str
) -> TurnRecord:
    action = "agent_message" if message.kind == "agent" else "handoff_notice"
    return TurnRecord(
        conversation_id=entry["conversation_id"],
        channel=entry["channel"],
        message="",
        intent=None,
        confidence=None,
        out_of_scope=False,
        action=action,
        responses=[{"text": redacted, "kind": message.kind, "agent": message.agent}],
        retrieval_hits=None,
        moderation={},
        latency_ms=0.0,
        model_version="agent",
        metadata={"agent": agent, "kind": message.kind},
    )


AGENT_DESK = web.AppKey("agent_desk", AgentDesk)


def desk_factory(desk: AgentDesk):
    """The runtime's `DeskFactory`: this desk, around the runtime's webhook notifier."""

    def build(notifier: HandoffNotifier, settings: object) -> AgentDesk:
        desk.notifier = notifier
        return desk

    return build


async def desk_context(app: web.Application) -> AsyncIterator[None]:
    """Opens the agents' store before the runtime starts and watches the queue timeout."""
    desk = app[AGENT_DESK]
    desk.app = app
    desk.store = await AgentStore.open(str(getattr(app[DEPS].store, "path", ":memory:")))
    watcher = asyncio.get_running_loop().create_task(desk.watch_timeouts(), name="agent-queue")
    try:
        yield
    finally:
        await stop_task(watcher)
        await desk.store.close()
