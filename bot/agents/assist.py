"""Agent assist: up to three replies the agent can send or edit, for the customer's last
message: the responses of the intent the classifier sees, then the knowledge-base answers
(the same micro-batched analysis the bot uses, with the search always on). The response
ranker's pool is not consulted yet (docs/handoff.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from retrieval.bot_model import Analysis, ServedModel

MAX_SUGGESTIONS = 3


async def suggestions(
    model: ServedModel, analyse: Callable[[str], Awaitable[Analysis]], text: str
) -> list[dict[str, Any]]:
    if not text.strip():
        return []
    analysis = await analyse(text)
    found: list[dict[str, Any]] = []
    prediction = analysis.prediction
    if not prediction.out_of_scope:
        for template in model.responses.get(prediction.intent, [])[:2]:
            found.append({"text": template.text, "source": f"intent {prediction.intent}"})
    for hit in analysis.hits:
        if hit.passage.answer:
            found.append({"text": hit.passage.answer, "source": "knowledge base"})
    unique = list({item["text"]: item for item in found}.values())
    return unique[:MAX_SUGGESTIONS]
