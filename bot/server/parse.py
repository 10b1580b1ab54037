"""`POST /model/parse`, Rasa's NLU endpoint: the intent ranking, out-of-scope and ambiguity
decisions and the retrieval hits for a text (a debug view).

It is an operator's tool, so it sits behind the admin token (or is opened on purpose with
`supportbot serve --expose-parse`), every call is logged, and it is limited: a few calls at
once and a bounded number a minute, so it cannot slow customers' turns. It never returns
stored customer text: the titles of question-and-answer passages (historical customer
questions) and the texts of the nearest training examples are left out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from aiohttp import web

from bot.app_keys import ANALYSE, DEPS
from bot.channels import rest
from bot.server.auth import token_refusal
from bot.server.http_errors import RequestError
from retrieval.bot_model import Analysis

log = logging.getLogger(__name__)

MAX_PARSE_CHARS = 2000
MAX_IN_FLIGHT = 2
"""Parse calls running at once; each may run a model call and an explanation."""
MAX_PER_MINUTE = 120
BUSY = "/model/parse is busy: at most {limit} calls at once; retry later"
TOO_MANY = "/model/parse is limited to {limit} calls a minute; retry later"
HIDDEN_TEXT_KINDS = frozenset({"qa"})
"""Passage kinds whose title is a customer's question from a dialogue."""


class ParseLimiter:
    """At most `in_flight` calls at once and `per_minute` calls in any minute."""

    def __init__(self, in_flight: int = MAX_IN_FLIGHT, per_minute: int = MAX_PER_MINUTE):
        self.in_flight = in_flight
        self.per_minute = per_minute
        self.running = 0
        self.started: deque[float] = deque()

    def enter(self, now: float) -> None:
        while self.started and self.started[0] <= now - 60:
            self.started.popleft()
        if self.running >= self.in_flight:
            raise RequestError(BUSY.format(limit=self.in_flight), status=429)
        if len(self.started) >= self.per_minute:
            raise RequestError(TOO_MANY.format(limit=self.per_minute), status=429)
        self.running += 1
        self.started.append(now)

    def leave(self) -> None:
        self.running -= 1


PARSE_LIMITER = web.AppKey("parse_limiter", ParseLimiter)


def add_parse_route(app: web.Application, exposed: bool = False) -> None:
    """Mount /model/parse; behind the admin token unless `exposed` (a debug switch)."""
    app[PARSE_LIMITER] = ParseLimiter()

    async def guarded(request: web.Request) -> web.StreamResponse:
        refusal = None if exposed else token_refusal(request)
        if refusal is not None:
            return refusal
        limiter = request.app[PARSE_LIMITER]
        limiter.enter(time.monotonic())
        try:
            return await parse_message(request)
        finally:
            limiter.leave()

    app.router.add_post("/model/parse", guarded)


async def parse_message(request: web.Request) -> web.Response:
    """Rasa's /model/parse: the NLU result for a text, with the retrieval hits (debug view)."""
    payload = await rest.read_json_object(request)
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RequestError('field "text" is required and must be a non-empty string')
    if len(text) > MAX_PARSE_CHARS:
        raise RequestError(f'field "text" is longer than {MAX_PARSE_CHARS} characters')
    explain = payload.get("explain") is True or request.query.get("explain") in ("1", "true")
    log.info("model/parse from %s (%d characters, explain %s)", request.remote, len(text), explain)
    analysis = await request.app[ANALYSE](text)
    body = _parse_body(text, analysis)
    if explain:
        model = request.app[DEPS].model
        loop = asyncio.get_running_loop()
        [(_, explanation)] = await loop.run_in_executor(None, model.explain, [text])
        body["explanation"] = without_example_texts(explanation)
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
        "retrieval": [public_hit(hit.to_json()) for hit in analysis.hits],
    }


def public_hit(hit: dict) -> dict:
    """A retrieval hit without stored customer text: a question-and-answer passage's title
    is the customer's question, so it is left out (its id and source still locate it)."""
    if hit.get("kind") in HIDDEN_TEXT_KINDS:
        return {**hit, "title": None}
    return hit


def without_example_texts(explanation: dict) -> dict:
    """The classifier's explanation with the nearest examples' intents and similarities
    but not their texts, which may be customers' messages labelled for training."""
    hidden = {}
    for key in ("nearest_examples", "supporting_examples"):
        examples = explanation.get(key) or []
        hidden[key] = [{k: v for k, v in e.items() if k != "text"} for e in examples]
    return {**explanation, **hidden}
