"""The HTTP server, built by `create_app(settings, deps)` so tests can build it in-process.

The app owns what it is given: on shutdown it stops accepting turns, lets the model
batcher finish the queued ones, and closes the conversation store.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from aiohttp import web

from bot.channels import rest
from bot.channels.slack.channel import SlackSettings, add_slack_routes
from bot.channels.webchat.channel import WebchatSettings, add_webchat_routes
from bot.dialogue import reply_ranking
from bot.dialogue.manager import DialogueManager
from bot.dialogue.pipeline import default_stages
from bot.dialogue.stages.actions import action_policy
from bot.dialogue.stages.conversation import ConversationMemory, StateStore
from bot.handoff.events import handoff_journal_context
from bot.handoff.notifier import HandoffNotifier
from bot.moderation import Moderator
from bot.server.admin import HANDOFF_STATES, add_admin_routes
from bot.server.admission import AdmissionGate, add_admission
from bot.server.batching import MicroBatcher
from bot.server.forwarded import forwarded_middleware
from bot.server.http_errors import RequestError, json_errors
from bot.server.model_swap import add_model_routes
from bot.server.review_page import add_review_routes
from bot.store.conversation_log import ConversationStore, SQLiteConversationStore
from bot.store.privacy import retention_context
from bot.store.state_store import SQLiteStateStore
from retrieval.bot_model import Analysis, BotModel
from retrieval.ranker import EncodedContext, ResponseRanker
from retrieval.ranker_text import ContextTurn
from supportbot.config import ActionsConfig, ModerationConfig, PrivacyConfig, parse_networks
from supportbot.config.dialogue import DialogueConfig

MANAGER = web.AppKey("manager", DialogueManager)
DEPS = web.AppKey("deps", "AppDeps")
ANALYSE = web.AppKey("analyse", object)
MAX_PARSE_CHARS = 2000


@dataclass
class ServerSettings:
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    max_batch: int = 32
    model_batches_in_flight: int = 2
    """Model batches run at once (bot/batching.py): two overlap one batch's retrieval with
    the next one's encoding."""
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    admin_token: str | None = None
    """Bearer token for /admin/*; None disables those endpoints."""
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    actions: ActionsConfig | None = None
    """Custom actions (bot/action_stage.py); None: the bot has none."""
    max_pending_turns: int = 256
    """Turns in progress at once; beyond it requests get 503 with Retry-After."""
    retry_after_seconds: int = 1
    shutdown_timeout_seconds: float = 30.0
    """How long shutdown waits for the turns in progress."""
    slack: SlackSettings | None = None
    """Tokens resolved from the environment (bot.channels.slack.settings); None: no Slack."""
    webchat: WebchatSettings = field(default_factory=WebchatSettings)
    trusted_proxies: list[str] = field(default_factory=list)
    """Proxies whose X-Forwarded-For names the client (bot/forwarded.py)."""


@dataclass
class AppDeps:
    model: BotModel
    store: ConversationStore
    states: StateStore | None = None
    """Conversation state; default: a table in the SQLite log file (or in memory)."""


def create_app(settings: ServerSettings, deps: AppDeps) -> web.Application:
    middlewares = [json_errors]
    if settings.trusted_proxies:
        middlewares.insert(0, forwarded_middleware(parse_networks(settings.trusted_proxies)))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[DEPS] = deps
    app.cleanup_ctx.append(_runtime(settings, deps))
    app.cleanup_ctx.append(retention_context(settings.privacy, deps.store))
    gate = AdmissionGate(settings.max_pending_turns, settings.retry_after_seconds)
    add_admission(app, gate, settings.shutdown_timeout_seconds)
    add_admin_routes(app, settings.admin_token, deps.store)
    add_slack_routes(app, settings.slack, MANAGER, getattr(deps.store, "path", ":memory:"))
    add_model_routes(app, deps.model)
    add_review_routes(app, deps.model)
    add_webchat_routes(app, settings.webchat, settings.max_message_chars)
    # Last: it starts once the state store and channels are up and stops before them.
    app.cleanup_ctx.append(handoff_journal_context(HANDOFF_STATES))
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/webhooks/rest/", rest_status)
    app.router.add_post("/webhooks/rest/webhook", _rest_webhook(settings))
    app.router.add_post("/model/parse", parse_message)
    return app


@dataclass
class Runtime:
    manager: DialogueManager
    analyse: Callable[[str], Awaitable[Analysis]]
    states: StateStore


@asynccontextmanager
async def dialogue_runtime(settings: ServerSettings, deps: AppDeps) -> AsyncIterator[Runtime]:
    """The dialogue manager with its batcher, state store and handoff notifier; on exit the
    queued turns finish, then everything is closed in order. Shared by server and chat."""
    batcher: MicroBatcher[tuple[str, bool], Analysis] = MicroBatcher(
        partial(_analyse_batch, deps.model),
        settings.max_batch,
        max_in_flight=settings.model_batches_in_flight,
    )

    async def analyse_for_reply(text: str) -> Analysis:
        """The dialogue's call: no knowledge-base search when the intent settles the reply."""
        return await batcher.submit((text, False))

    async def analyse_fully(text: str) -> Analysis:
        """/model/parse's call: its caller wants the retrieval hits too."""
        return await batcher.submit((text, True))

    contexts: MicroBatcher[tuple[ResponseRanker, list[ContextTurn]], EncodedContext] = MicroBatcher(
        reply_ranking.encode_in_batches, settings.max_batch, thread_name="ranker"
    )

    async def encode_context(ranker: ResponseRanker, turns: list[ContextTurn]) -> EncodedContext:
        """The response ranker's context encodings, micro-batched like the classifier's
        calls and one batch at a time, instead of a thread (and a core) per turn."""
        return await contexts.submit((ranker, turns))

    moderator = Moderator(settings.moderation, settings.max_message_chars)
    states = deps.states or _state_store(deps.store)
    handoff = settings.dialogue.handoff
    notifier = HandoffNotifier(handoff.webhook_url, handoff.webhook_timeout_seconds)
    memory = ConversationMemory(settings.dialogue, states, notifier, moderator.pii.redact)
    actions = action_policy(settings.actions, deps.model, memory, deps.store.history)
    stages = default_stages(
        deps.model,
        deps.store,
        analyse_for_reply,
        settings.max_message_chars,
        moderator,
        memory,
        actions,
        encode_context,
    )
    batcher.start()
    contexts.start()
    try:
        yield Runtime(DialogueManager(stages), analyse_fully, states)
    finally:
        await batcher.aclose()
        await contexts.aclose()
        if actions is not None:
            await actions.close()
        await notifier.close()
        await states.close()
        await deps.store.close()


def _analyse_batch(model: BotModel, requests: list[tuple[str, bool]]) -> list[Analysis]:
    """A micro-batch of (text, search always) requests in one model call."""
    return model.analyse([text for text, _ in requests], [search for _, search in requests])


def _runtime(settings: ServerSettings, deps: AppDeps):
    async def lifecycle(app: web.Application):
        async with dialogue_runtime(settings, deps) as runtime:
            app[MANAGER] = runtime.manager
            app[ANALYSE] = runtime.analyse
            app[HANDOFF_STATES] = runtime.states
            yield

    return lifecycle


async def health(request: web.Request) -> web.Response:
    model = request.app[DEPS].model
    return web.json_response(
        {"status": "ok", "model": model.version, "intents": len(model.classifier.intents)}
    )


async def version(request: web.Request) -> web.Response:
    import supportbot

    manifest = request.app[DEPS].model.manifest
    return web.json_response(
        {
            "version": supportbot.__version__,
            "model": manifest.version,
            "created_at": manifest.created_at,
        }
    )


async def rest_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _rest_webhook(settings: ServerSettings):
    async def handler(request: web.Request) -> web.Response:
        payload = await rest.read_json_object(request)
        inbound = rest.parse_inbound(payload, settings.max_message_chars)
        replies = await request.app[MANAGER].handle(inbound)
        return web.json_response(rest.render(inbound.sender_id, replies))

    return handler


async def parse_message(request: web.Request) -> web.Response:
    """Rasa's /model/parse: the NLU result for a text, with the retrieval hits (debug view)."""
    payload = await rest.read_json_object(request)
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RequestError('field "text" is required and must be a non-empty string')
    if len(text) > MAX_PARSE_CHARS:
        raise RequestError(f'field "text" is longer than {MAX_PARSE_CHARS} characters')
    analysis = await request.app[ANALYSE](text)
    body = _parse_body(text, analysis)
    if payload.get("explain") is True or request.query.get("explain") in ("1", "true"):
        model = request.app[DEPS].model
        loop = asyncio.get_running_loop()
        [(_, body["explanation"])] = await loop.run_in_executor(None, model.explain, [text])
    return web.json_response(body)


def _parse_body(text: str, analysis: Analysis) -> dict:
    prediction = analysis.prediction
    return {
        "text": text,
        "intent": {"name": prediction.intent, "confidence": prediction.confidence},
        "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
        "out_of_scope": prediction.out_of_scope,
        "ambiguous": prediction.ambiguous,
        "support": prediction.support,
        "retrieval": [hit.to_json() for hit in analysis.hits],
    }


def _state_store(store: ConversationStore) -> SQLiteStateStore:
    """Dialogue state in the log's own file, written through the log's connection."""
    path = str(getattr(store, "path", ":memory:"))
    if isinstance(store, SQLiteConversationStore) and path != ":memory:":
        return SQLiteStateStore(path, writer=store)
    return SQLiteStateStore(path)  # an in-memory log: state in memory of its own


def single_threaded_math() -> None:
    """One thread for the BLAS and OpenMP pools numpy, scikit-learn and FAISS load.

    The server's matrix products are small (one batch of messages against a classifier
    head or an index), too small to split; with 2 threads per pool their workers spun
    after every product on the cores the encoder and the event loop need. Limiting them
    took the demo bot from 13.8 to 9.2 ms of CPU per request at 64 concurrent customers
    (benchmarks/load.py). threadpoolctl reaches each loaded library's own pool.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def freeze_loaded_objects() -> None:
    """Move everything loaded so far (the model, its vocabularies, passage rows) out of
    the cyclic garbage collector's reach.

    The demo bot leaves about 140,000 tracked objects, and a full collection over them
    took 68 ms here; under load such a pause lands on whichever turns are in flight.
    Frozen objects are still freed by reference counting; only garbage cycles among them
    are never collected, which costs memory only if the first model is swapped out and
    held such cycles. With the freeze, p99 at 64 concurrent customers went from 281-283
    ms to 253-259 ms (two alternating pairs of benchmarks/load.py runs). A model swapped
    in later is frozen by `refreeze_loaded_objects`.
    """
    gc.collect()
    gc.freeze()


def refreeze_loaded_objects() -> None:
    """After a model swap: collect the cycles the old model left among frozen objects,
    then freeze the new model. One full collection per swap, instead of the new model's
    objects weighing on every collection for as long as it serves."""
    gc.unfreeze()
    freeze_loaded_objects()
