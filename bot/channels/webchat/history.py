"""Logged turns as the widget shows them: the customer's message, the bot's replies, the
customer's rating. Built from the conversation log, so a reload shows what was stored
(redacted text included), not what the browser remembers."""

from __future__ import annotations

from typing import Any

from bot.channels.base import OutboundReply

FEEDBACK_NAMES = {1: "up", -1: "down"}
PAYLOAD_PREFIX = "/"


def render_turns(rows: list[dict[str, Any]], feedback: dict[int, int]) -> list[dict[str, Any]]:
    """Stored turns, oldest first, as widget turns. A quick reply's payload is shown as the
    title of the button that sent it."""
    rendered = []
    previous_buttons: list[dict] = []
    for row in rows:
        replies = [_reply(reply) for reply in row.get("responses") or []]
        rendered.append(
            {
                "turn_id": row["id"],
                "at": row["created_at"],
                "customer": _shown_text(row.get("message") or "", previous_buttons),
                "replies": replies,
                "feedback": FEEDBACK_NAMES.get(feedback.get(row["id"], 0)),
            }
        )
        previous_buttons = [b for reply in replies for b in reply["buttons"]]
    return rendered


def live_turn(
    text: str,
    replies: list[OutboundReply],
    rows: list[dict[str, Any]],
    started_at: float,
    client_id: str | None,
) -> dict[str, Any]:
    """The turn just handled, with its log id when the last logged row is this turn (a
    rate-limited message is answered but not logged, so then there is nothing to rate)."""
    expected = [reply.text for reply in replies]
    last = rows[-1] if rows else None
    logged = (
        last is not None
        and last["created_at"] >= started_at
        and [r.get("text") for r in last.get("responses") or []] == expected
    )
    previous = rows[-2] if logged and len(rows) > 1 else (last if not logged else None)
    buttons = [b for r in (previous or {}).get("responses") or [] for b in r.get("buttons", [])]
    turn_row = last if logged else None
    return {
        "turn_id": turn_row["id"] if turn_row else None,
        "at": turn_row["created_at"] if turn_row else started_at,
        "customer": _shown_text(turn_row["message"] if turn_row else text, buttons),
        "replies": [reply.to_json() for reply in replies],
        "feedback": None,
        "client_id": client_id,
    }


def _reply(stored: dict[str, Any]) -> dict[str, Any]:
    """A bot reply; an agent's message or a notice (logged by bot/agents/desk.py) also
    carries its `kind` and the agent's display name."""
    buttons = stored.get("buttons") or []
    reply: dict[str, Any] = {
        "text": str(stored.get("text") or ""),
        "buttons": [{"title": b.get("title"), "payload": b.get("payload")} for b in buttons],
    }
    if stored.get("kind") in ("agent", "notice"):
        reply.update(kind=stored["kind"], agent=stored.get("agent"))
    return reply


def _shown_text(message: str, buttons: list[dict]) -> str:
    if message.startswith(PAYLOAD_PREFIX):
        for button in buttons:
            if button.get("payload") == message and button.get("title"):
                return str(button["title"])
    return message
