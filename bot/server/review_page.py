"""The review page: a small static page served at /admin/review, and the admin endpoints it
calls with the admin token as a bearer token.

    GET  /admin/review               the page (no data in it; it asks for the token)
    GET  /admin/review/queue         picked turns waiting for a label, with the intents
    POST /admin/review/labels        {"turn_id", "intent", "new_intent"?, "reply"?, "reviewer"?}

Labels go into the `review_labels` table of the conversation log, which `supportbot retrain`
reads. Picks come from `supportbot review`, which fills the queue.
"""

from __future__ import annotations

from aiohttp import web

from bot import STATIC
from bot.server.auth import admin_only, maintained_store
from bot.server.http_errors import RequestError
from bot.store.review_labels import (
    INTENT_RULE,
    Label,
    LabelError,
    check_label,
    pending_queue,
    save_labels,
)
from retrieval.bot_model import ServedModel

PAGE = STATIC / "review.html"
MAX_REVIEWER_CHARS = 80
QUEUE_LIMIT = 200
REVIEW_MODEL = web.AppKey("review_model", ServedModel)


def add_review_routes(app: web.Application, model: ServedModel) -> None:
    app[REVIEW_MODEL] = model
    app.router.add_get("/admin/review", review_page)
    app.router.add_get("/admin/review/queue", admin_only(review_queue))
    app.router.add_post("/admin/review/labels", admin_only(post_label))


async def review_page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(PAGE)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; form-action 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def review_queue(request: web.Request) -> web.Response:
    """Pending picks (redacted text only), the intents the served model knows, and the
    response variants of the picks' intents, for the reviewer to choose a reply from."""
    store = maintained_store(request)
    picks = await store.call(pending_queue, QUEUE_LIMIT)
    model = request.app[REVIEW_MODEL]
    responses = {
        intent: [template.text for template in model.responses.get(intent, [])]
        for intent in {pick["intent"] for pick in picks if pick["intent"]}
    }
    return web.json_response(
        {"picks": picks, "intents": sorted(model.classifier.intents), "responses": responses}
    )


async def post_label(request: web.Request) -> web.Response:
    label = _parse_label(await _json_object(request))
    store = maintained_store(request)
    missing = await store.call(save_labels, [label])
    if missing:
        raise RequestError("turn_id: no such turn in the conversation log", status=404)
    return web.json_response({"status": "labelled", "turn_id": label.turn_id})


async def _json_object(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError as exc:
        raise RequestError("body: expected a JSON object") from exc
    if not isinstance(body, dict):
        raise RequestError("body: expected a JSON object")
    return body


def _parse_label(body: dict) -> Label:
    unknown = sorted(set(body) - {"turn_id", "intent", "new_intent", "reply", "reviewer"})
    if unknown:
        raise RequestError(f"{unknown[0]}: unknown field")
    new_intent = body.get("new_intent", False)
    if not isinstance(new_intent, bool):
        raise RequestError("new_intent: expected true or false")
    reviewer = body.get("reviewer") or "reviewer"
    if not isinstance(reviewer, str) or len(reviewer) > MAX_REVIEWER_CHARS:
        raise RequestError(f"reviewer: expected a name of at most {MAX_REVIEWER_CHARS} characters")
    reply = body.get("reply")
    turn_id, intent = body.get("turn_id"), body.get("intent")
    if not isinstance(turn_id, int) or isinstance(turn_id, bool):
        raise RequestError("turn_id: expected an integer")
    if not isinstance(intent, str):
        raise RequestError(f"intent: expected an intent name ({INTENT_RULE})")
    label = Label(turn_id, intent, new_intent, reply, reviewer, "page")
    try:
        check_label(label)
    except LabelError as exc:
        raise RequestError(str(exc)) from exc
    return label
