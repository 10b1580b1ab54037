"""Choosing a reply with the response ranker, for the dialogue manager's policy.

The context is the conversation's recent turns from the conversation log (customer
messages as logged, i.e. redacted, and the bot's replies) plus the current message.
Templates are filled from the conversation's state (`{name}` from the message metadata a
channel supplies); a template whose slots cannot all be filled is skipped, never sent
with a hole. Historical replies in the pool carry no customer values by construction
(training/reply_pool.py), so they are sent as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from retrieval.bot_model import ResponseTemplate
from retrieval.ranker import EncodedContext, ResponseRanker
from retrieval.ranker_text import ContextTurn, fill_template

History = Callable[..., Awaitable[list[dict]]]
"""`ConversationStore.history(conversation_id, limit=...)`: logged turns, oldest first."""
ContextEncoder = Callable[[ResponseRanker, list[ContextTurn]], Awaitable[EncodedContext]]
"""Encodes one context off the event loop; the server's micro-batches them
(`encode_in_batches`)."""


async def encode_in_thread(ranker: ResponseRanker, turns: list[ContextTurn]) -> EncodedContext:
    """One context in a thread of its own: for a policy used outside the server."""
    return await asyncio.to_thread(ranker.context, turns)


def encode_in_batches(
    requests: list[tuple[ResponseRanker, list[ContextTurn]]],
) -> list[EncodedContext]:
    """A micro-batch of contexts, one encoder call per ranker among them (a model swap
    can put two in one batch), answers in request order."""
    by_ranker: dict[int, tuple[ResponseRanker, list[int]]] = {}
    for index, (ranker, _) in enumerate(requests):
        by_ranker.setdefault(id(ranker), (ranker, []))[1].append(index)
    encoded: dict[int, EncodedContext] = {}
    for ranker, indices in by_ranker.values():
        contexts = ranker.contexts([requests[i][1] for i in indices])
        encoded.update(zip(indices, contexts, strict=True))
    return [encoded[index] for index in range(len(requests))]


async def encoded_context(
    ranker: ResponseRanker,
    history: History | None,
    conversation_id: str,
    text: str,
    encode: ContextEncoder,
) -> EncodedContext:
    """The encoded context of the current message; the encoder runs off the event loop."""
    window = ranker.info.context_turns
    earlier = await recent_turns(history, conversation_id, window) if history else []
    turns = [*earlier, ContextTurn("customer", text)][-window:]
    return await encode(ranker, turns)


async def recent_turns(history: History, conversation_id: str, window: int) -> list[ContextTurn]:
    """The last `window` turns before this message, from the log (one row holds a customer
    message and the bot's reply to it)."""
    rows = await history(conversation_id, limit=window // 2 + 1)
    turns = []
    for row in rows:
        if row.get("message"):
            turns.append(ContextTurn("customer", row["message"]))
        if row.get("response"):
            turns.append(ContextTurn("agent", row["response"]))
    return turns[-window:]


def message_state(metadata: Mapping[str, object]) -> dict[str, str]:
    """Slot values the conversation knows: the channel's string and number metadata."""
    return {
        key: str(value)
        for key, value in metadata.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def has_choice(ranker: ResponseRanker, intent: str) -> bool:
    """Whether the ranker holds more than one variant of `intent` to choose between."""
    return len(ranker.template_indices(intent)) > 1


def choose_template(
    ranker: ResponseRanker,
    variants: list[ResponseTemplate],
    intent: str,
    context: EncodedContext | None,
    state: Mapping[str, str],
) -> ResponseTemplate | None:
    """The intent's best-scoring variant that can be filled; None when the ranker has no
    variant of it or none can be filled. With no context (`has_choice` said there is at
    most one variant) the variants are taken in order, unranked."""
    rows = ranker.template_indices(intent)
    for row in rows if context is None else ranker.rank(context, rows):
        chosen = _filled(ranker, {intent: variants}, row, state)
        if chosen is not None:
            return chosen
    return None


def choose_any(
    ranker: ResponseRanker,
    responses: Mapping[str, list[ResponseTemplate]],
    context: EncodedContext,
    state: Mapping[str, str],
) -> ResponseTemplate | None:
    """The best candidate of the whole pool when no intent is known, if it scores at least
    the ranker's `min_score` (chosen at training time for precision)."""
    for row in ranker.rank(context):
        if ranker.pool_score(context, row) < ranker.info.min_score:
            return None
        chosen = _filled(ranker, responses, row, state)
        if chosen is not None:
            return chosen
    return None


def _filled(
    ranker: ResponseRanker,
    responses: Mapping[str, list[ResponseTemplate]],
    row: int,
    state: Mapping[str, str],
) -> ResponseTemplate | None:
    candidate = ranker.candidates[row]
    if candidate.kind == "history":
        return ResponseTemplate(candidate.text)
    variants = responses.get(candidate.intent or "", [])
    if candidate.variant is None or candidate.variant >= len(variants):
        return None
    template = variants[candidate.variant]
    text = fill_template(template.text, state)
    return None if text is None else ResponseTemplate(text, template.buttons)
