"""The dialogue runtime the server and `supportbot chat` share: the dialogue manager with
its model batchers, state store, handoff notifier and custom actions, opened and closed
in order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

from aiohttp import web

from bot.app_keys import ANALYSE, HANDOFF_STATES, MANAGER, REDACT
from bot.dialogue import reply_ranking
from bot.dialogue.manager import DialogueManager
from bot.dialogue.memory import ConversationMemory, HandoffStates
from bot.dialogue.pipeline import default_stages
from bot.dialogue.stages.actions import action_policy
from bot.handoff.desk import HandoffDesk, WebhookDesk
from bot.handoff.notifier import HandoffNotifier
from bot.moderation import Moderator
from bot.replicas.runtime_lock import close_shared_lock, open_shared_lock
from bot.server.batching import MicroBatcher
from bot.server.metrics import ServerMetrics, timed_stages
from bot.server.settings import AppDeps, ServerSettings
from bot.store.conversation_log import ConversationStore, SQLiteConversationStore
from bot.store.state_store import SQLiteStateStore
from retrieval.bot_model import Analysis, ServedModel
from retrieval.ranker import EncodedContext, ResponseRanker
from retrieval.ranker_text import ContextTurn


@dataclass
class Runtime:
    manager: DialogueManager
    analyse: Callable[[str], Awaitable[Analysis]]
    states: HandoffStates
    redact: Callable[[str], str]
    """The personal-data redaction every logged turn goes through (agents' turns too)."""


DeskFactory = Callable[[HandoffNotifier, ServerSettings], HandoffDesk]
"""Builds the handoff desk around the webhook notifier (the agents' desk, bot/agents/)."""


@asynccontextmanager
async def dialogue_runtime(
    settings: ServerSettings,
    deps: AppDeps,
    desk_factory: DeskFactory | None = None,
    metrics: ServerMetrics | None = None,
) -> AsyncIterator[Runtime]:
    """The dialogue manager with its batcher, state store and handoff notifier; on exit the
    queued turns finish, then everything is closed in order. Shared by server and chat;
    with `metrics`, turns, stages and batch sizes are counted into them."""
    batcher: MicroBatcher[tuple[str, bool], Analysis] = MicroBatcher(
        partial(_analyse_batch, deps.model),
        settings.max_batch,
        max_in_flight=settings.model_batches_in_flight,
        on_batch=partial(metrics.observe_batch, "model") if metrics else None,
    )

    async def analyse_for_reply(text: str) -> Analysis:
        """The dialogue's call: no knowledge-base search when the intent settles the reply."""
        return await batcher.submit((text, False))

    async def analyse_fully(text: str) -> Analysis:
        """/model/parse's call: its caller wants the retrieval hits too."""
        return await batcher.submit((text, True))

    contexts: MicroBatcher[tuple[ResponseRanker, list[ContextTurn]], EncodedContext] = MicroBatcher(
        reply_ranking.encode_in_batches,
        settings.max_batch,
        thread_name="ranker",
        on_batch=partial(metrics.observe_batch, "ranker") if metrics else None,
    )

    async def encode_context(ranker: ResponseRanker, turns: list[ContextTurn]) -> EncodedContext:
        """The response ranker's context encodings, micro-batched like the classifier's
        calls and one batch at a time, instead of a thread (and a core) per turn."""
        return await contexts.submit((ranker, turns))

    moderator = Moderator(settings.moderation, settings.max_message_chars)
    states = deps.states or _state_store(deps.store)
    handoff = settings.dialogue.handoff
    notifier = HandoffNotifier(handoff.webhook_url, handoff.webhook_timeout_seconds)
    desk = (desk_factory or _webhook_desk)(notifier, settings)
    memory = ConversationMemory(settings.dialogue, states, desk, moderator.pii.redact)
    actions = action_policy(settings.actions, deps.model, memory, deps.store.history)
    stages = default_stages(
        model=deps.model,
        store=deps.store,
        analyse=analyse_for_reply,
        max_chars=settings.max_message_chars,
        moderator=moderator,
        memory=memory,
        actions=actions,
        encode_context=encode_context,
    )
    if metrics is not None:
        stages = timed_stages(stages, metrics)
    shared_lock = await open_shared_lock(deps.store)
    batcher.start()
    contexts.start()
    try:
        manager = DialogueManager(stages, shared_lock)
        yield Runtime(manager, analyse_fully, states, moderator.pii.redact)
    finally:
        await close_shared_lock(shared_lock)
        await batcher.aclose()
        await contexts.aclose()
        if actions is not None:
            await actions.close()
        await desk.close()
        await states.close()
        await deps.store.close()


def _analyse_batch(model: ServedModel, requests: list[tuple[str, bool]]) -> list[Analysis]:
    """A micro-batch of (text, search always) requests in one model call."""
    return model.analyse([text for text, _ in requests], [search for _, search in requests])


def _webhook_desk(notifier: HandoffNotifier, settings: ServerSettings) -> HandoffDesk:
    """Without agents: a handoff is taken only by an external desk's webhook."""
    return WebhookDesk(notifier, settings.dialogue.handoff)


def runtime_context(
    settings: ServerSettings,
    deps: AppDeps,
    desk_factory: DeskFactory | None = None,
    metrics: ServerMetrics | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """The runtime as an aiohttp cleanup context, its parts under their app keys."""

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with dialogue_runtime(settings, deps, desk_factory, metrics) as runtime:
            app[MANAGER] = runtime.manager
            app[ANALYSE] = runtime.analyse
            app[HANDOFF_STATES] = runtime.states
            app[REDACT] = runtime.redact
            yield

    return lifecycle


def _state_store(store: ConversationStore) -> SQLiteStateStore:
    """Dialogue state in the log's own file, written through the log's connection."""
    path = str(getattr(store, "path", ":memory:"))
    if isinstance(store, SQLiteConversationStore) and path != ":memory:":
        return SQLiteStateStore(path, writer=store)
    return SQLiteStateStore(path)  # an in-memory log: state in memory of its own
