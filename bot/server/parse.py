"""`POST /model/parse`, Rasa's NLU endpoint: the intent ranking, out-of-scope and ambiguity
decisions and the retrieval hits for a text (a debug view)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.app_keys import ANALYSE, DEPS
from bot.channels import rest
from bot.server.http_errors import RequestError
from retrieval.bot_model import Analysis

MAX_PARSE_CHARS = 2000


def add_parse_route(app: web.Application) -> None:
    app.router.add_post("/model/parse", parse_message)


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
