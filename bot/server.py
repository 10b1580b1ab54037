"""The HTTP server, built by `create_app(settings, deps)` so tests can build it in-process.

The app owns what it is given: on shutdown it stops accepting turns, lets the model
batcher finish the queued ones, and closes the conversation store.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from bot.batching import MicroBatcher
from bot.channels import rest
from bot.dialogue import DialogueManager
from bot.http_errors import RequestError, json_errors
from bot.pipeline import default_stages
from bot.store import ConversationStore
from retrieval.bot_model import Analysis, BotModel

MANAGER = web.AppKey("manager", DialogueManager)
DEPS = web.AppKey("deps", "AppDeps")
ANALYSE = web.AppKey("analyse", object)
MAX_PARSE_CHARS = 2000


@dataclass
class ServerSettings:
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    max_batch: int = 32


@dataclass
class AppDeps:
    model: BotModel
    store: ConversationStore


def create_app(settings: ServerSettings, deps: AppDeps) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[json_errors])
    app[DEPS] = deps
    app.cleanup_ctx.append(_runtime(settings, deps))
    app.router.add_get("/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/webhooks/rest/", rest_status)
    app.router.add_post("/webhooks/rest/webhook", _rest_webhook(settings))
    app.router.add_post("/model/parse", parse_message)
    return app


def _runtime(settings: ServerSettings, deps: AppDeps):
    async def lifecycle(app: web.Application):
        batcher: MicroBatcher[str, Analysis] = MicroBatcher(deps.model.analyse, settings.max_batch)
        batcher.start()
        stages = default_stages(deps.model, deps.store, batcher.submit, settings.max_message_chars)
        app[MANAGER] = DialogueManager(stages)
        app[ANALYSE] = batcher.submit
        yield
        await batcher.aclose()
        await deps.store.close()

    return lifecycle


async def health(request: web.Request) -> web.Response:
    model = request.app[DEPS].model
    return web.json_response(
        {"status": "ok", "model": model.version, "intents": len(model.classifier.intents)}
    )


async def version(request: web.Request) -> web.Response:
    import bot

    manifest = request.app[DEPS].model.manifest
    return web.json_response(
        {"version": bot.__version__, "model": manifest.version, "created_at": manifest.created_at}
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
