"""What the customer sees from an action: its messages as channel replies, or, when it
failed, the fixed apology with an offer of a human (never the failure's detail)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot import messages
from bot.actions.base import ActionResult, BotMessage
from bot.channels.base import OutboundReply, QuickReply

HANDOFF_PAYLOAD = "/human_handoff"


def failure_replies() -> list[OutboundReply]:
    """The same apology and handoff button as the pipeline's error boundary."""
    return [
        OutboundReply(
            messages.ERROR_APOLOGY, (QuickReply(messages.HANDOFF_OFFER, HANDOFF_PAYLOAD),)
        )
    ]


def replies_for(result: ActionResult) -> list[OutboundReply]:
    """Channel replies for a result. Only text and buttons render today; an image or
    attachment URL is sent as its own line, custom JSON and `response` names are left to
    the caller (see `BotMessage`). A rejected action gets the apology too; a pipeline
    running a form should re-ask the slot instead."""
    if result.failed:
        return failure_replies()
    return [reply for message in result.messages if (reply := to_reply(message)) is not None]


def to_reply(message: BotMessage) -> OutboundReply | None:
    lines = [part for part in (message.text, message.image, message.attachment) if part]
    buttons = tuple(filter(None, map(_button, message.buttons)))
    if not lines and not buttons:
        return None
    return OutboundReply("\n".join(lines), buttons)


def _button(raw: Mapping[str, Any]) -> QuickReply | None:
    title, payload = raw.get("title"), raw.get("payload")
    if not isinstance(title, str) or not title:
        return None
    return QuickReply(title, payload if isinstance(payload, str) else title)
