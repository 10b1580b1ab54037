"""`LogTurns`: every admitted turn is written to the conversation log, whatever happened
inside it, with the message redacted and the moderation verdict."""

from __future__ import annotations

from collections.abc import Callable

from bot.dialogue.manager import Next
from bot.dialogue.turn import Turn
from bot.moderation import Moderator
from bot.moderation.stages import logged_text, moderation_record
from bot.store.conversation_log import ConversationStore, TurnRecord
from retrieval.bot_model import Analysis


class LogTurns:
    """Writes the turn after everything inside ran. A callable version is read per turn
    (a hot-swapped model)."""

    name = "log_turns"

    def __init__(
        self,
        store: ConversationStore,
        model_version: str | Callable[[], str],
        moderator: Moderator | None = None,
    ):
        self.store = store
        self.model_version = model_version
        self.moderator = moderator or Moderator()

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        try:
            await next_stage()
        finally:
            version = self.model_version
            await self.store.log_turn(
                turn_record(turn, version() if callable(version) else version, self.moderator)
            )


def turn_record(turn: Turn, model_version: str, moderator: Moderator) -> TurnRecord:
    """The row the log keeps of a finished turn."""
    prediction = turn.analysis.prediction if turn.analysis else None
    chosen = turn.chosen  # a click chose its intent: the model's reading of "/x" is not it
    return TurnRecord(
        conversation_id=turn.message.sender_id,
        channel=turn.message.channel,
        message=logged_text(turn, moderator),
        intent=chosen or (prediction.intent if prediction else None),
        confidence=1.0 if chosen else (prediction.confidence if prediction else None),
        out_of_scope=not chosen and bool(prediction and prediction.out_of_scope),
        action=turn.action,
        responses=[reply.to_json() for reply in turn.dispatcher.replies],
        retrieval_hits=_logged_hits(turn.analysis),
        moderation=moderation_record(turn),
        latency_ms=round(turn.elapsed_ms, 3),
        model_version=model_version,
        metadata={**turn.metadata, **({"error": turn.error} if turn.error else {})},
        opt_out=turn.message.metadata.get("training_opt_out") is True,
    )


def _logged_hits(analysis: Analysis | None) -> list[dict] | None:
    """The hits the turn was decided with; None (JSON null) when the knowledge base was
    not searched because the intent settled the reply."""
    if analysis is None:
        return []
    return [hit.to_json() for hit in analysis.hits] if analysis.searched else None
