"""Operations metrics: `GET /metrics` in the Prometheus text format (prometheus-client).

Every app has its own `CollectorRegistry`, so several servers in one process (tests,
replicas behind one supervisor) never share or collide on a series. Counters live here,
not on the model, so a hot swap (bot/server/model_swap.py) changes the `supportbot_model`
info series and nothing else. Labels are small fixed vocabularies (channel, turn action,
stage, handoff reason kind, failure reason, HTTP status and route template): never a
message, a sender id or a conversation id.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.actions.base import FailureReason
from bot.app_keys import DEPS
from bot.dialogue.manager import Middleware, Next, stage_name
from bot.dialogue.turn import Turn
from bot.server.auth import admin_only
from retrieval.bot_model import ServedModel
from supportbot.config import MetricsConfig
from supportbot.turn_actions import HANDOFF_REASONS, handoff_reason_kind

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REFUSED_STATUSES = frozenset({429, 503})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class ServerMetrics:
    """The app's series, registered in its own registry."""

    registry: CollectorRegistry
    turns: Counter
    turn_latency: Histogram
    stage_latency: Histogram
    batch_size: Histogram
    refused: Counter
    handoffs: Counter
    action_failures: Counter
    store_latency: Histogram

    def observe_turn(self, turn: Turn, seconds: float) -> None:
        """Count a finished turn by channel and what it did, with its handoff or failure."""
        self.turns.labels(turn.message.channel, turn.action).inc()
        self.turn_latency.labels(turn.message.channel).observe(seconds)
        if turn.action == "handoff":
            self.handoffs.labels(handoff_reason_kind(turn.metadata.get("handoff_reason"))).inc()
        error = turn.metadata.get("action_error")
        if turn.action == "action_failed" and isinstance(error, dict):
            self.action_failures.labels(str(error.get("reason") or "error")).inc()

    def observe_stage(self, name: str, seconds: float) -> None:
        self.stage_latency.labels(name).observe(seconds)

    def observe_batch(self, batcher: str, size: int) -> None:
        self.batch_size.labels(batcher).observe(size)

    def observe_store(self, operation: str, seconds: float) -> None:
        self.store_latency.labels(operation).observe(seconds)

    def scrape(self) -> bytes:
        return generate_latest(self.registry)


def server_metrics(model: ServedModel, encoder_restarts: Callable[[], int]) -> ServerMetrics:
    """A fresh registry with every series the server exposes; the handoff and failure
    reasons start at zero, so a rate over them is defined before the first one."""
    metrics = _new_metrics(model, encoder_restarts)
    for reason in HANDOFF_REASONS:
        metrics.handoffs.labels(reason)
    for failure in FailureReason:
        metrics.action_failures.labels(str(failure))
    return metrics


def _new_metrics(model: ServedModel, encoder_restarts: Callable[[], int]) -> ServerMetrics:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(ModelCollector(model, encoder_restarts))

    def histogram(name: str, doc: str, labels: Iterable[str], buckets=LATENCY_BUCKETS):
        return Histogram(name, doc, list(labels), registry=registry, buckets=buckets)

    return ServerMetrics(
        registry=registry,
        turns=Counter(
            "supportbot_turns", "Finished turns", ["channel", "outcome"], registry=registry
        ),
        turn_latency=histogram(
            "supportbot_turn_latency_seconds", "Whole-turn latency", ["channel"]
        ),
        stage_latency=histogram(
            "supportbot_stage_latency_seconds",
            "Time inside each dialogue stage, the stages it calls included",
            ["stage"],
        ),
        batch_size=histogram(
            "supportbot_batch_size",
            "Items per micro-batch of the model and ranker",
            ["batcher"],
            BATCH_BUCKETS,
        ),
        refused=Counter(
            "supportbot_requests_refused",
            "Requests answered 429 or 503",
            ["status", "route"],
            registry=registry,
        ),
        handoffs=Counter(
            "supportbot_handoffs", "Handoffs to a person", ["reason"], registry=registry
        ),
        action_failures=Counter(
            "supportbot_action_failures",
            "Custom actions that failed",
            ["reason"],
            registry=registry,
        ),
        store_latency=histogram(
            "supportbot_store_latency_seconds",
            "Conversation log calls, queueing and commit included",
            ["operation"],
        ),
    )


class ModelCollector(Collector):
    """Read at scrape time: the version served now (so it follows a hot swap) and the
    encoder child's restarts in this process."""

    def __init__(self, model: ServedModel, encoder_restarts: Callable[[], int]):
        self.model = model
        self.encoder_restarts = encoder_restarts

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("supportbot_model", "The model version being served")
        info.add_metric([], {"version": str(self.model.version)})
        yield info
        restarts = CounterMetricFamily(
            "supportbot_encoder_restarts", "Encoder child processes started again after dying"
        )
        restarts.add_metric([], float(self.encoder_restarts()))
        yield restarts


def timed_stages(stages: list[Middleware], metrics: ServerMetrics) -> list[Middleware]:
    """The stages, each timed into `supportbot_stage_latency_seconds`, behind one outermost
    stage that counts the finished turn (rate-limited ones too)."""
    return [CountTurns(metrics), *(TimedStage(stage, metrics) for stage in stages)]


class CountTurns:
    """Counts every turn once it has finished, logged or not."""

    name = "count_turns"

    def __init__(self, metrics: ServerMetrics):
        self.metrics = metrics

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        try:
            await next_stage()
        finally:
            self.metrics.observe_turn(turn, turn.elapsed_ms / 1000)


class TimedStage:
    """A stage whose time, from entry to return, goes into the stage histogram."""

    def __init__(self, stage: Middleware, metrics: ServerMetrics):
        self.stage = stage
        self.name = stage_name(stage)
        self.metrics = metrics

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        started = time.perf_counter()
        try:
            await self.stage(turn, next_stage)
        finally:
            self.metrics.observe_stage(self.name, time.perf_counter() - started)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refused_counter(metrics: ServerMetrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The outermost middleware: counts 429 and 503 answers by route template."""

    @web.middleware
    async def count_refused(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _count(metrics, request, exc.status)
            raise
        _count(metrics, request, response.status)
        return response

    return count_refused


def _count(metrics: ServerMetrics, request: web.Request, status: int) -> None:
    if status in REFUSED_STATUSES:
        route = request.match_info.route.resource
        template = route.canonical if route is not None else "other"
        metrics.refused.labels(str(status), template).inc()


def metrics_handler(metrics: ServerMetrics) -> Handler:
    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=metrics.scrape(), headers={"Content-Type": CONTENT_TYPE})

    return scrape


METRICS = web.AppKey("metrics", ServerMetrics)
"""The app's metrics (also read by tests and benchmarks)."""


def add_metrics(app: web.Application, metrics: ServerMetrics, config: MetricsConfig) -> None:
    """Count refusals and mount `GET /metrics`: behind the admin token on the app, or on
    a listener of its own when `config.port` is set."""
    app[METRICS] = metrics
    app.middlewares.insert(0, refused_counter(metrics))
    store = app[DEPS].store
    if hasattr(store, "observe"):
        store.observe = metrics.observe_store
    if not config.enabled:
        return
    if config.port is None:
        app.router.add_get("/metrics", admin_only(metrics_handler(metrics)))
    else:
        app.cleanup_ctx.append(_own_listener(metrics, config.host, config.port))


def _own_listener(
    metrics: ServerMetrics, host: str, port: int
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def listen(app: web.Application) -> AsyncIterator[None]:
        scrape_app = web.Application()
        scrape_app.router.add_get("/metrics", metrics_handler(metrics))
        runner = web.AppRunner(scrape_app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        try:
            yield
        finally:
            await runner.cleanup()

    return listen
