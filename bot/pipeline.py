"""The default turn stages: log, error boundary, moderation in, understand, decide,
moderation out. `default_stages` wires them to a model and a conversation store."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from bot import messages
from bot.channels.base import OutboundReply, QuickReply
from bot.dialogue import Middleware, Next, Turn
from bot.moderation import check_message, redact
from bot.store import ConversationStore, TurnRecord
from retrieval.bot_model import Analysis, BotModel

log = logging.getLogger(__name__)

Analyse = Callable[[str], Awaitable[Analysis]]
PAYLOAD_PREFIX = "/"


def log_turns(store: ConversationStore, model_version: str) -> Middleware:
    """Outermost stage: every turn is written, with redacted text, whatever happened inside."""

    async def stage(turn: Turn, next_stage: Next) -> None:
        try:
            await next_stage()
        finally:
            await store.log_turn(_record(turn, model_version))

    return stage


def _record(turn: Turn, model_version: str) -> TurnRecord:
    prediction = turn.analysis.prediction if turn.analysis else None
    verdict = turn.moderation
    return TurnRecord(
        conversation_id=turn.message.sender_id,
        channel=turn.message.channel,
        message=redact(turn.text),
        intent=prediction.intent if prediction else None,
        confidence=prediction.confidence if prediction else None,
        out_of_scope=bool(prediction and prediction.out_of_scope),
        action=turn.action,
        responses=[reply.to_json() for reply in turn.dispatcher.replies],
        retrieval_hits=[hit.to_json() for hit in turn.analysis.hits] if turn.analysis else [],
        moderation={"action": verdict.action, "rule": verdict.rule} if verdict else {},
        latency_ms=round(turn.elapsed_ms, 3),
        model_version=model_version,
        metadata={"error": turn.error} if turn.error else {},
    )


async def error_boundary(turn: Turn, next_stage: Next) -> None:
    """The one place unexpected errors are caught: logged with ids, answered with an apology."""
    try:
        await next_stage()
    except Exception as exc:
        log.exception(
            "turn failed (conversation %s, channel %s)",
            turn.message.sender_id,
            turn.message.channel,
        )
        turn.action = "error"
        turn.error = type(exc).__name__
        turn.dispatcher.clear()
        turn.dispatcher.utter(
            messages.ERROR_APOLOGY, (QuickReply(messages.HANDOFF_OFFER, "/human_handoff"),)
        )


def moderate_in(max_chars: int) -> Middleware:
    async def stage(turn: Turn, next_stage: Next) -> None:
        turn.moderation = check_message(turn.text, max_chars)
        turn.text = turn.moderation.text
        if turn.moderation.action == "block":
            turn.action = "moderation"
            text = (
                messages.EMPTY_MESSAGE
                if turn.moderation.rule == "empty"
                else (messages.MESSAGE_TOO_LONG.format(max_chars=max_chars))
            )
            turn.dispatcher.utter(text)
            return
        if turn.moderation.action == "warn":
            turn.dispatcher.utter(messages.ABUSE_WARNING)
        await next_stage()

    return stage


def understand(analyse: Analyse) -> Middleware:
    async def stage(turn: Turn, next_stage: Next) -> None:
        turn.analysis = await analyse(turn.text)
        await next_stage()

    return stage


class ResponsePolicy:
    """Decide: intent response, clarification, retrieval answer, or fallback."""

    def __init__(self, model: BotModel, seed: int = 0):
        self.model = model
        self.random = random.Random(seed)
        retrieval = model.manifest.retrieval
        self.min_score = retrieval.min_score if retrieval else 1.0

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        intent = self._payload_intent(turn.text)
        if intent:
            self._respond_with_intent(turn, intent)
        else:
            self._decide(turn, turn.analysis)
        await next_stage()

    def _payload_intent(self, text: str) -> str | None:
        name = text[len(PAYLOAD_PREFIX) :] if text.startswith(PAYLOAD_PREFIX) else None
        return name if name in self.model.responses else None

    def _decide(self, turn: Turn, analysis: Analysis) -> None:
        prediction = analysis.prediction
        if prediction.ambiguous:
            options = [name for name, _ in prediction.ranking[:3] if name in self.model.responses]
            if len(options) > 1:
                turn.action = "clarify"
                turn.dispatcher.utter(
                    messages.CLARIFY,
                    tuple(QuickReply(humanise(name), PAYLOAD_PREFIX + name) for name in options),
                )
                return
        if not prediction.out_of_scope and prediction.intent in self.model.responses:
            self._respond_with_intent(turn, prediction.intent)
            return
        best = analysis.hits[0] if analysis.hits else None
        if best is not None and best.score >= self.min_score:
            turn.action = "retrieval"
            passage = best.passage
            prefix = messages.RETRIEVAL_PREFIX.format(title=passage.title) + "\n"
            turn.dispatcher.utter((prefix if passage.kind == "article" else "") + passage.answer)
            return
        turn.action = "fallback"
        if not (turn.moderation and turn.moderation.action == "warn"):
            turn.dispatcher.utter(messages.FALLBACK)

    def _respond_with_intent(self, turn: Turn, intent: str) -> None:
        template = self.random.choice(self.model.responses[intent])
        turn.action = "intent_response"
        turn.dispatcher.utter(template.text, tuple(QuickReply(t, p) for t, p in template.buttons))


async def moderate_out(turn: Turn, next_stage: Next) -> None:
    """Replies can quote historical agent answers: strip any personal data they carry."""
    await next_stage()
    replies = turn.dispatcher.replies
    replies[:] = [OutboundReply(redact(r.text), r.buttons) for r in replies]


def humanise(intent: str) -> str:
    return intent.replace("_", " ").strip().capitalize()


def default_stages(
    model: BotModel, store: ConversationStore, analyse: Analyse, max_chars: int
) -> list[Middleware]:
    return [
        log_turns(store, model.version),
        error_boundary,
        moderate_out,
        moderate_in(max_chars),
        understand(analyse),
        ResponsePolicy(model),
    ]
