"""The HTTP server, built by `create_app(settings, deps)` so tests can build it in-process.

The app owns what it is given: on shutdown it stops accepting turns, lets the model
batcher finish the queued ones, and closes the conversation store. Every channel is a
module with the same `add_routes(app, settings)`, mounted from `CHANNELS`.
"""

from __future__ import annotations

from aiohttp import web

import supportbot
from bot.agents import api as agents_api
from bot.agents.desk import desk_factory
from bot.app_keys import DEPS, HANDOFF_STATES
from bot.channels import rest
from bot.channels.base import ChannelModule
from bot.channels.slack import channel as slack
from bot.channels.webchat import channel as webchat
from bot.handoff.events import handoff_journal_context
from bot.replicas.identity import replica_id
from bot.server.admin import add_admin_routes
from bot.server.admission import AdmissionGate, BodyLimits, add_admission
from bot.server.analytics_page import add_analytics_routes
from bot.server.forwarded import forwarded_middleware
from bot.server.http_errors import json_errors
from bot.server.metrics import add_metrics, server_metrics
from bot.server.model_swap import add_model_routes
from bot.server.parse import add_parse_route
from bot.server.review_page import add_review_routes
from bot.server.runtime import runtime_context
from bot.server.server_logs import quiet_client_faults
from bot.server.settings import AppDeps, ServerSettings
from bot.store.privacy import retention_context
from retrieval.encoder_process import encoder_restarts
from supportbot.config import parse_networks

CHANNELS: tuple[ChannelModule, ...] = (rest, slack, webchat)
"""The transports, each mounted by its `add_routes(app, settings)`."""


def create_app(settings: ServerSettings, deps: AppDeps) -> web.Application:
    quiet_client_faults()
    middlewares = [json_errors]
    if settings.trusted_proxies:
        middlewares.insert(0, forwarded_middleware(parse_networks(settings.trusted_proxies)))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    app[DEPS] = deps
    metrics = server_metrics(deps.model, encoder_restarts)
    desk = agents_api.add_routes(app, settings)  # its store opens before the runtime
    app.cleanup_ctx.append(runtime_context(settings, deps, desk_factory(desk), metrics))
    app.cleanup_ctx.append(retention_context(settings.privacy, deps.store))
    gate = AdmissionGate(settings.max_pending_turns, settings.retry_after_seconds)
    limits = BodyLimits(
        settings.max_body_bytes, settings.body_timeout_seconds, settings.slow_bodies_per_client
    )
    add_admission(app, gate, settings.shutdown_timeout_seconds, limits)
    add_admin_routes(app, settings.admin_token, deps.store)
    add_metrics(app, metrics, settings.metrics)
    add_model_routes(app, deps.model)
    add_review_routes(app, deps.model)
    add_analytics_routes(app)
    for channel in CHANNELS:
        channel.add_routes(app, settings)
    # Last: it starts once the state store and channels are up and stops before them.
    app.cleanup_ctx.append(handoff_journal_context(HANDOFF_STATES))
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    add_parse_route(app, exposed=settings.expose_parse)
    return app


async def health(request: web.Request) -> web.Response:
    model = request.app[DEPS].model
    return web.json_response(
        {"status": "ok", "model": model.version, "intents": len(model.classifier.intents)}
    )


async def version(request: web.Request) -> web.Response:
    manifest = request.app[DEPS].model.manifest
    return web.json_response(
        {
            "version": supportbot.__version__,
            "model": manifest.version,
            "created_at": manifest.created_at,
            "replica": replica_id(),
        }
    )
