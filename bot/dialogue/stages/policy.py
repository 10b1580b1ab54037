"""`ResponsePolicy`: the turn's reply, once the stages before it have not answered: the
intent's response, a clarifying question with quick replies, a knowledge-base answer, a
reply from the response ranker's pool, or a request to rephrase."""

from __future__ import annotations

import asyncio
import random

from bot import messages
from bot.channels.base import QuickReply
from bot.dialogue import reply_ranking
from bot.dialogue.manager import Next
from bot.dialogue.turn import PAYLOAD_PREFIX, Turn, chosen_by_click
from retrieval.bot_model import Analysis, ResponseTemplate, ServedModel
from retrieval.index import Hit, Passage
from retrieval.kb_answers import LABEL_PREFIX
from retrieval.ranker import EncodedContext, ResponseRanker


class ResponsePolicy:
    """Decide: intent response, clarification, retrieval answer, or fallback."""

    name = "response_policy"

    def __init__(
        self,
        model: ServedModel,
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

    def threshold_for(self, hit: Hit) -> float:
        """Help articles are calibrated on their own (retrieval.article_min_score)."""
        retrieval = self.model.manifest.retrieval
        return retrieval.threshold_for(hit.passage.kind) if retrieval else 1.0

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        chosen = chosen_by_click(turn) or ""
        if chosen in self.model.responses:
            await self._respond_with_intent(turn, chosen)
        elif self._is_kb_class(chosen):
            await self._answer_chosen_class(turn, chosen)
        else:
            assert turn.analysis is not None, "ResponsePolicy runs after Understand"
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
        settled = self.model.settled_by(prediction, analysis.kb_answer)
        if settled == "intent":
            await self._respond_with_intent(turn, prediction.intent)
            return
        if settled == "kb_class" and analysis.kb_answer is not None:
            self._answer_from_knowledge_base(turn, analysis.kb_answer)
            return
        best = self._retrieval_hit(analysis)
        if best is not None and best.score >= self.threshold_for(best):
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
        answer_with_article(turn, passage.title, passage.answer, passage.url, passage.kind)

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


def answer_with_article(
    turn: Turn, title: str, answer: str, url: str | None, kind: str = "article"
) -> None:
    """A knowledge-base answer: an article's title first, its link after."""
    turn.action = "retrieval"
    turn.metadata["article"] = title
    prefix = messages.RETRIEVAL_PREFIX.format(title=title) + "\n"
    link = "\n" + messages.RETRIEVAL_LINK.format(url=url) if url else ""
    turn.dispatcher.utter((prefix if kind == "article" else "") + answer + link)


def humanise(intent: str) -> str:
    """A button title for an intent or a knowledge-base class (`kb:gift_cards`)."""
    name = intent.removeprefix(LABEL_PREFIX)
    return name.replace("_", " ").strip().capitalize()
