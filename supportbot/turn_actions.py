"""What a turn did, as the conversation log records it: one vocabulary and its groupings.

The runtime writes `Turn.action` into the log's `action` column; the learning loop,
privacy exports and analytics read it back. Both sides import the words from here, so a
new kind of turn is added in one place and every grouping below decides about it.
"""

from __future__ import annotations

from typing import Literal, get_args

TurnAction = Literal[
    "pending",
    "intent_response",
    "retrieval",
    "ranked_reply",
    "clarify",
    "form",
    "action",
    "action_failed",
    "greeting",
    "thanks",
    "goodbye",
    "bot_identity",
    "still_there",
    "menu",
    "fallback",
    "handoff",
    "handed_off",
    "moderation",
    "damped",
    "rate_limited",
    "error",
    "agent_message",
    "handoff_notice",
    "survey",
]
"""`pending`: not decided yet (never logged by a finished turn). The others, in order:
an intent's response, a knowledge-base answer, a reply the response ranker chose from
the reply pool, a clarifying question, a form's question or answer, a custom action that
ran or failed, six kinds of small talk (greeting, thanks, goodbye, bot identity, "are you
still there?", and a vague opener answered with the menu), a request to rephrase, a
handoff to a person, silence while a person owns the conversation, a message moderation
blocked, a repeat that was damped, a sender over the rate limit, an unexpected error;
and, logged outside a customer's turn (no customer message), an agent's message and a
handoff notice ("Dana joined", the queue timing out); last, the customer's 1-5 rating
of an agent."""

TURN_ACTIONS: frozenset[TurnAction] = frozenset(get_args(TurnAction))

SMALL_TALK: frozenset[TurnAction] = frozenset(
    {"greeting", "thanks", "goodbye", "bot_identity", "still_there", "menu"}
)
"""Answered by the small-talk rules, without the intent model."""

ANSWERED: frozenset[TurnAction] = frozenset(
    {"intent_response", "retrieval", "clarify", "form", "action", "menu"}
)
"""Turns that end a run of fallbacks (the count towards a handoff starts again)."""

NOT_FOR_TRAINING: frozenset[TurnAction] = frozenset(
    {
        "error",
        "moderation",
        "damped",
        "handoff",
        "rate_limited",
        "agent_message",
        "handoff_notice",
        "survey",
    }
)
"""Turns kept out of training rows and review picks: what the bot refused or could not
handle says nothing about what the customer meant."""


HandoffReason = Literal["asked", "repeated_fallbacks", "abuse", "action_failure", "policy", "other"]
"""Why a conversation went to a person, as metrics and analytics count it: the customer
asked (words or a handoff intent), fallbacks in a row, moderation (abuse or threats), a
custom action that failed, a custom action or rule that paused the bot (policy)."""

HANDOFF_REASONS: tuple[HandoffReason, ...] = get_args(HandoffReason)


def handoff_reason_kind(reason: str | None) -> HandoffReason:
    """The kind of a handoff reason as the dialogue writes it (`customer asked`,
    `intent talk_to_human`, `2 fallbacks in a row`, `moderation: threat`,
    `action failed: ...`, `action pause_bot`), so labels stay a small fixed set."""
    text = (reason or "").strip().lower()
    if text == "customer asked" or text.startswith("intent "):
        return "asked"
    if text.endswith("fallbacks in a row"):
        return "repeated_fallbacks"
    if text.startswith("moderation"):
        return "abuse"
    if text.startswith("action failed"):
        return "action_failure"
    if text.startswith("action "):
        return "policy"
    return "other"
