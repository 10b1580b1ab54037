"""Moderation as stages around the turn pipeline: `SenderLimit` outermost (a refused
message is not a turn), `ModerateIn` before understanding, `ModerateOut` around it.

A handoff is the verdict action `handoff` plus `turn.action = "handoff"` and a message
offering a human; the dialogue manager's handoff work hooks on either.
"""

from __future__ import annotations

import dataclasses
import logging

from bot import messages
from bot.channels.base import OutboundReply, QuickReply
from bot.dialogue.manager import Next
from bot.dialogue.turn import HANDOFF_PAYLOAD, Turn
from bot.moderation.output import redact_reply
from bot.moderation.verdict import Check, Moderator
from bot.store.pseudonyms import pseudonym

log = logging.getLogger(__name__)

REDACTION_FAILED = "<REDACTION_FAILED>"


class SenderLimit:
    """Per-sender rate limit. Refused messages get a polite reply and are not logged, so a
    flood costs neither a model call nor a database write."""

    name = "sender_limit"

    def __init__(self, moderator: Moderator):
        self.moderator = moderator

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        message = turn.message
        retry_after = self.moderator.admit(message.sender_id, message.client_address)
        if retry_after is None:
            await next_stage()
            return
        log.info("rate limited sender %s for %.1f s", pseudonym(message.sender_id), retry_after)
        turn.action = "rate_limited"
        turn.dispatcher.utter(messages.RATE_LIMITED)


class ModerateIn:
    """Judge the message; blocked, damped and handed-off turns stop here."""

    name = "moderate_in"

    def __init__(self, moderator: Moderator):
        self.moderator = moderator

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        moderator = self.moderator
        verdict = moderator.inbound(turn.message.sender_id, turn.text)
        turn.moderation = verdict
        turn.text = verdict.text
        if verdict.action == "block":
            turn.action = "moderation"
            too_long = messages.MESSAGE_TOO_LONG.format(max_chars=moderator.max_chars)
            turn.dispatcher.utter(messages.EMPTY_MESSAGE if verdict.rule == "empty" else too_long)
            return
        if verdict.action == "handoff":
            turn.action = "handoff"
            text = messages.HANDOFF_THREAT if verdict.abuse == "threat" else messages.HANDOFF_ABUSE
            turn.dispatcher.utter(text, (QuickReply(messages.HANDOFF_OFFER, HANDOFF_PAYLOAD),))
            return
        if verdict.action == "damp":
            turn.action = "damped"
            if f"repeat:repeat_{moderator.config.repeat_limit}" in verdict.flags:
                turn.dispatcher.utter(messages.REPEATED_MESSAGE)
            return
        if verdict.action == "warn":
            turn.dispatcher.utter(messages.ABUSE_WARNING)
        elif verdict.abuse == "profanity":
            turn.dispatcher.utter(messages.DEESCALATE)
        await next_stage()


class ModerateOut:
    """Replies can quote historical agent answers: remove personal data that is not the
    customer's own from this turn, and record what was removed with the turn."""

    name = "moderate_out"

    def __init__(self, moderator: Moderator):
        self.moderator = moderator

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        moderator = self.moderator
        await next_stage()
        own = [span.value for span in turn.moderation.pii] if turn.moderation else []
        replies: list[OutboundReply] = []
        removed: list[Check] = []
        for reply in turn.dispatcher.replies:
            text, spans = redact_reply(moderator.pii, reply.text, own)
            replies.append(OutboundReply(text, reply.buttons))
            removed.extend(Check("output_pii", span.type, "redact") for span in spans)
        turn.dispatcher.replies[:] = replies
        if removed and turn.moderation:
            checks = turn.moderation.checks + tuple(removed)
            turn.moderation = dataclasses.replace(turn.moderation, checks=checks)


def logged_text(turn: Turn, moderator: Moderator) -> str:
    """The message as stored: placeholders for personal data. If redaction itself fails,
    store a marker rather than risk the raw text."""
    try:
        verdict = turn.moderation
        if verdict is not None and verdict.text == turn.text:
            return moderator.pii.redact(turn.text, list(verdict.pii))
        return moderator.pii.redact(turn.text)
    except Exception:
        log.exception("redaction failed (conversation %s)", pseudonym(turn.message.sender_id))
        return REDACTION_FAILED


def moderation_record(turn: Turn) -> dict:
    """The verdict as stored with the turn (rule names and actions, no personal data)."""
    return turn.moderation.to_json() if turn.moderation else {}
