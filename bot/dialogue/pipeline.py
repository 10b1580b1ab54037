"""The default turn stages: rate limit, log, error boundary, moderation in, understand,
decide, moderation out (the moderation stages live in `bot.moderation.stages`).
`default_stages` wires them to a model and a conversation store."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot import messages
from bot.channels.base import QuickReply
from bot.dialogue import reply_ranking
from bot.dialogue.manager import Middleware, Next, Turn
from bot.dialogue.stages.conversation import (
    ConversationMemory,
    dialogue_rules,
    intent_rules,
    track_conversation,
)
from bot.moderation import Moderator
from bot.moderation.stages import (
    logged_text,
    moderate_in,
    moderate_out,
    moderation_record,
    sender_limit,
)
from bot.store.conversation_log import ConversationStore, TurnRecord
from retrieval.bot_model import Analysis, BotModel, ResponseTemplate
from retrieval.index import Hit, Passage
from retrieval.kb_answers import LABEL_PREFIX
from retrieval.ranker import EncodedContext, ResponseRanker

log = logging.getLogger(__name__)

Analyse = Callable[[str], Awaitable[Analysis]]
PAYLOAD_PREFIX = "/"


def log_turns(
    store: ConversationStore,
    model_version: str | Callable[[], str],
    moderator: Moderator | None = None,
) -> Middleware:
    """Every admitted turn is written, with redacted text and the moderation verdict,
    whatever happened inside. A callable version is read per turn (hot-swapped models)."""
    moderator = moderator or Moderator()

    async def stage(turn: Turn, next_stage: Next) -> None:
        try:
            await next_stage()
        finally:
            version = model_version() if callable(model_version) else model_version
            await store.log_turn(_record(turn, version, moderator))

    return stage


def _logged_hits(analysis: Analysis | None) -> list[dict] | None:
    """The hits the turn was decided with; None (JSON null) when the knowledge base was
    not searched because the intent settled the reply."""
    if analysis is None:
        return []
    return [hit.to_json() for hit in analysis.hits] if analysis.searched else None


def _record(turn: Turn, model_version: str, moderator: Moderator) -> TurnRecord:
    prediction = turn.analysis.prediction if turn.analysis else None
    return TurnRecord(
        conversation_id=turn.message.sender_id,
        channel=turn.message.channel,
        message=logged_text(turn, moderator),
        intent=prediction.intent if prediction else None,
        confidence=prediction.confidence if prediction else None,
        out_of_scope=bool(prediction and prediction.out_of_scope),
        action=turn.action,
        responses=[reply.to_json() for reply in turn.dispatcher.replies],
        retrieval_hits=_logged_hits(turn.analysis),
        moderation=moderation_record(turn),
        latency_ms=round(turn.elapsed_ms, 3),
        model_version=model_version,
        metadata={**turn.metadata, **({"error": turn.error} if turn.error else {})},
        opt_out=turn.message.metadata.get("training_opt_out") is True,
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


def start_analysis(analyse: Analyse) -> Middleware:
    """Send the message to the model as soon as the turn is admitted.

    The model needs only the text, and the stages before `understand` (conversation state
    from SQLite, moderation) take a millisecond or two of their own: started here, the
    model call runs meanwhile. A turn that never reaches `understand` (a handed-off
    conversation, a blocked message) cancels the call, or drops its result.
    """

    async def stage(turn: Turn, next_stage: Next) -> None:
        call = asyncio.ensure_future(analyse(turn.text))
        turn.started_analysis = (turn.text, call)
        try:
            await next_stage()
        finally:
            turn.started_analysis = None
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)

    return stage


def understand(analyse: Analyse) -> Middleware:
    """The model's analysis of the text as it now stands: the early call's result when no
    stage changed the text since (moderation may have cleaned it), else a new call."""

    async def stage(turn: Turn, next_stage: Next) -> None:
        started = turn.started_analysis
        if started is not None and started[0] == turn.text:
            turn.analysis = await started[1]
        else:
            turn.analysis = await analyse(turn.text)
        await next_stage()

    return stage


class ResponsePolicy:
    """Decide: intent response, clarification, retrieval answer, or fallback."""

    def __init__(
        self,
        model: BotModel,
        seed: int = 0,
        history: reply_ranking.History | None = None,
        encode_context: reply_ranking.ContextEncoder = reply_ranking.encode_in_thread,
    ):
        self.model = model
        self.random = random.Random(seed)
        self.history = history
        """The conversation log's reader: recent turns are the ranker's context."""
        self.encode_context = encode_context

    @property
    def min_score(self) -> float:
        """Read per turn: the model may be swapped while serving (bot/model_swap.py)."""
        retrieval = self.model.manifest.retrieval
        return retrieval.min_score if retrieval else 1.0

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        chosen = turn.text[len(PAYLOAD_PREFIX) :] if turn.text.startswith(PAYLOAD_PREFIX) else ""
        if chosen in self.model.responses:
            await self._respond_with_intent(turn, chosen)
        elif self._is_kb_class(chosen):
            await self._answer_chosen_class(turn, chosen)
        else:
            await self._decide(turn, turn.analysis)
        await next_stage()

    def _is_kb_class(self, name: str) -> bool:
        kb = self.model.kb_answers
        return kb is not None and name in kb

    async def _answer_chosen_class(self, turn: Turn, label: str) -> None:
        """A knowledge-base class picked from a clarifying question's buttons: its answer
        from the live store, looked up off the event loop (it may wait for the index)."""
        passage = await asyncio.to_thread(self.model.kb_passage, label)
        if passage is not None:
            self._answer_from_knowledge_base(turn, passage)
        else:  # removed or edited since the question was asked
            turn.action = "fallback"
            turn.dispatcher.utter(messages.FALLBACK)

    async def _decide(self, turn: Turn, analysis: Analysis) -> None:
        prediction = analysis.prediction
        if prediction.ambiguous:
            options = [
                name
                for name, _ in prediction.ranking[:3]
                if name in self.model.responses or self._is_kb_class(name)
            ]
            if len(options) > 1:
                turn.action = "clarify"
                turn.dispatcher.utter(
                    messages.CLARIFY,
                    tuple(QuickReply(humanise(name), PAYLOAD_PREFIX + name) for name in options),
                )
                return
        if not prediction.out_of_scope and prediction.intent in self.model.responses:
            await self._respond_with_intent(turn, prediction.intent)
            return
        if analysis.kb_answer is not None:
            self._answer_from_knowledge_base(turn, analysis.kb_answer)
            return
        best = self._retrieval_hit(analysis)
        if best is not None and best.score >= self.min_score:
            self._answer_from_knowledge_base(turn, best.passage)
            return
        if await self._respond_from_pool(turn):
            return
        turn.action = "fallback"
        if not (turn.moderation and turn.moderation.action == "warn"):
            turn.dispatcher.utter(messages.FALLBACK)

    def _retrieval_hit(self, analysis: Analysis) -> Hit | None:
        """The best hit the classifier has not already judged: a question it learned as a
        knowledge-base class was either chosen above or rejected by it."""
        kb = self.model.kb_answers
        for hit in analysis.hits:
            if kb is None or not kb.learned(hit.passage.question, hit.passage.answer):
                return hit
        return None

    def _answer_from_knowledge_base(self, turn: Turn, passage: Passage) -> None:
        turn.action = "retrieval"
        prefix = messages.RETRIEVAL_PREFIX.format(title=passage.title) + "\n"
        link = "\n" + messages.RETRIEVAL_LINK.format(url=passage.url) if passage.url else ""
        turn.dispatcher.utter((prefix if passage.kind == "article" else "") + passage.answer + link)

    async def _respond_with_intent(self, turn: Turn, intent: str) -> None:
        variants = self.model.responses[intent]
        template = await self._ranked(turn, intent) or self.random.choice(variants)
        turn.action = "intent_response"
        turn.dispatcher.utter(template.text, tuple(QuickReply(t, p) for t, p in template.buttons))

    async def _context(self, turn: Turn, ranker: ResponseRanker) -> EncodedContext:
        """The encoded dialogue context, read from the log and encoded only when the ranker
        has a choice to make: the encoding costs more CPU than the rest of the turn."""
        return await reply_ranking.encoded_context(
            ranker, self.history, turn.message.sender_id, turn.text, self.encode_context
        )

    async def _ranked(self, turn: Turn, intent: str) -> ResponseTemplate | None:
        ranker = self.model.ranker
        if ranker is None:
            return None
        state = reply_ranking.message_state(turn.message.metadata)
        variants = self.model.responses[intent]
        many = reply_ranking.has_choice(ranker, intent)
        context = await self._context(turn, ranker) if many else None
        return reply_ranking.choose_template(ranker, variants, intent, context, state)

    async def _respond_from_pool(self, turn: Turn) -> bool:
        """No intent and no knowledge-base answer: the ranker's best reply overall, when it
        clears the ranker's threshold."""
        ranker, responses = self.model.ranker, self.model.responses  # one model, if swapped
        if ranker is None:
            return False
        context = await self._context(turn, ranker)
        state = reply_ranking.message_state(turn.message.metadata)
        chosen = reply_ranking.choose_any(ranker, responses, context, state)
        if chosen is None:
            return False
        turn.action = "ranked_reply"
        turn.dispatcher.utter(chosen.text, tuple(QuickReply(t, p) for t, p in chosen.buttons))
        return True


def humanise(intent: str) -> str:
    """A button title for an intent or a knowledge-base class (`kb:gift_cards`)."""
    name = intent.removeprefix(LABEL_PREFIX)
    return name.replace("_", " ").strip().capitalize()


def default_stages(
    model: BotModel,
    store: ConversationStore,
    analyse: Analyse,
    max_chars: int,
    moderator: Moderator | None = None,
    memory: ConversationMemory | None = None,
    actions: ActionStages | None = None,
    encode_context: reply_ranking.ContextEncoder = reply_ranking.encode_in_thread,
) -> list[Middleware]:
    """The stages in order; with `memory`, the conversation stages (state, handoff, forms,
    small talk) join in around moderation and the model, and with `actions` too, custom
    actions run for mapped intents and finished forms. `encode_context` runs the response
    ranker's encoder (the server micro-batches it)."""
    moderator = moderator or Moderator(max_chars=max_chars)
    remembered = memory is not None
    acting = remembered and actions is not None
    return [
        sender_limit(moderator),
        log_turns(store, lambda: model.version, moderator),
        error_boundary,
        start_analysis(analyse),
        moderate_out(moderator),
        *([track_conversation(memory)] if remembered else []),
        *([actions.form_actions] if acting else []),
        moderate_in(moderator),
        *([dialogue_rules(memory)] if remembered else []),
        understand(analyse),
        *([intent_rules(memory)] if remembered else []),
        *([actions.intent_actions] if acting else []),
        ResponsePolicy(model, history=store.history, encode_context=encode_context),
    ]


class ActionStages(Protocol):
    """The custom-action stages (`bot.dialogue.stages.actions.ActionPolicy`) for
    `default_stages`."""

    async def form_actions(self, turn: Turn, next_stage: Next) -> None: ...

    async def intent_actions(self, turn: Turn, next_stage: Next) -> None: ...
