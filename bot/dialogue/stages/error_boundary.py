"""`ErrorBoundary`: the one place a turn's unexpected errors are caught."""

from __future__ import annotations

import logging

from bot import messages
from bot.channels.base import QuickReply
from bot.dialogue.manager import Next
from bot.dialogue.turn import HANDOFF_PAYLOAD, Turn
from bot.store.pseudonyms import pseudonym

log = logging.getLogger(__name__)


class ErrorBoundary:
    """Logs the error with ids (never the message text) and answers with a fixed apology
    and an offer of a human, instead of whatever the stages inside had said."""

    name = "error_boundary"

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        try:
            await next_stage()
        except Exception as exc:
            log.exception(
                "turn failed (conversation %s, channel %s)",
                pseudonym(turn.message.sender_id),
                turn.message.channel,
            )
            turn.action = "error"
            turn.error = type(exc).__name__
            turn.dispatcher.clear()
            turn.dispatcher.utter(
                messages.ERROR_APOLOGY, (QuickReply(messages.HANDOFF_OFFER, HANDOFF_PAYLOAD),)
            )
