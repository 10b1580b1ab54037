"""Slack's payloads to and from the normalised message types: which events are customer
messages, what conversation they belong to, and how replies look in Block Kit.

Conversations: a direct message channel is one conversation (`slack:{team}:{channel}`),
wherever in it the user writes. In a channel, the thread is the conversation
(`slack:{team}:{channel}:{thread root ts}`); with `reply_in_thread: false`, a top-level
mention starts no thread and the conversation is the user's in that channel
(`slack:{team}:{channel}:{user}`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from bot.channels.base import InboundMessage, OutboundReply

CHANNEL = "slack"
QUICK_REPLIES_BLOCK = "supportbot_quick_replies"
MAX_BUTTON_TITLE = 75
MAX_BUTTON_VALUE = 2000
MAX_SECTION_TEXT = 3000

DIRECT, MENTION, THREAD_MESSAGE = "direct", "mention", "thread_message"


@dataclass(frozen=True)
class SlackTarget:
    """Where a conversation lives in Slack, and so where its replies go."""

    team: str
    channel: str
    user: str
    direct: bool
    thread_ts: str | None
    """The thread to answer in; None answers in the channel or DM itself."""

    @property
    def conversation_id(self) -> str:
        base = f"{CHANNEL}:{self.team}:{self.channel}"
        return base if self.direct else f"{base}:{self.thread_ts or self.user}"


def conversation_place(conversation_id: str) -> tuple[str, str | None] | None:
    """(channel, thread ts) a conversation id names, the inverse of
    `SlackTarget.conversation_id`; None for an id that is not Slack's."""
    parts = conversation_id.split(":")
    if len(parts) not in (3, 4) or parts[0] != CHANNEL:
        return None
    thread = parts[3] if len(parts) == 4 and re.fullmatch(r"\d+\.\d+", parts[3]) else None
    return parts[2], thread


def event_kind(event: dict, bot_user_id: str | None) -> str | None:
    """DIRECT, MENTION or THREAD_MESSAGE for a customer's message; None for everything the
    bot must not answer: its own and other bots' messages, edits and other subtypes."""
    if event.get("bot_id") or event.get("subtype") or not event.get("user"):
        return None
    if bot_user_id and event["user"] == bot_user_id:
        return None
    if not isinstance(event.get("text"), str) or not event.get("channel"):
        return None
    if event.get("type") == "app_mention":
        return MENTION
    if event.get("type") != "message":
        return None
    if event.get("channel_type") == "im":
        return DIRECT
    mentioned = bot_user_id is not None and f"<@{bot_user_id}>" in event["text"]
    if event.get("thread_ts") and not mentioned:
        return THREAD_MESSAGE
    return None


def event_target(event: dict, team: str, kind: str, reply_in_thread: bool) -> SlackTarget:
    if kind == DIRECT:
        thread = event.get("thread_ts")
    else:
        thread = event.get("thread_ts") or (event.get("ts") if reply_in_thread else None)
    return SlackTarget(team, event["channel"], event["user"], kind == DIRECT, thread)


def interaction_target(payload: dict) -> SlackTarget:
    """The conversation of the message whose button was clicked (DM ids start with D)."""
    channel = payload["channel"]["id"]
    message = payload.get("message") or {}
    team = (payload.get("team") or {}).get("id") or payload["user"].get("team_id", "")
    return SlackTarget(
        team, channel, payload["user"]["id"], channel.startswith("D"), message.get("thread_ts")
    )


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """The message without the bot's @mention, which is addressing, not content."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return " ".join(text.split())


def inbound(text: str, target: SlackTarget, ref: str) -> InboundMessage:
    """`ref` is the Slack event or action id, kept for tracing a turn back to Slack."""
    metadata = {"slack": {**asdict(target), "ref": ref}}
    return InboundMessage(target.conversation_id, text, CHANNEL, metadata)


def escape(text: str) -> str:
    """Slack's three control characters, so a reply can never ping @channel or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message_body(reply: OutboundReply) -> dict:
    """chat.postMessage arguments for a reply: text, plus Block Kit buttons when it has any."""
    text = escape(reply.text)
    if not reply.buttons:
        return {"text": text}
    buttons = [
        {
            "type": "button",
            "action_id": f"quick_reply_{index}",
            "text": {"type": "plain_text", "text": button.title[:MAX_BUTTON_TITLE]},
            "value": button.payload[:MAX_BUTTON_VALUE],
        }
        for index, button in enumerate(reply.buttons)
    ]
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION_TEXT]}},
        {"type": "actions", "block_id": QUICK_REPLIES_BLOCK, "elements": buttons},
    ]
    return {"text": text, "blocks": blocks}


def answered_blocks(blocks: list[dict], chosen_title: str) -> list[dict]:
    """A message's blocks with its quick replies replaced by the choice, so nobody can
    click twice and the thread shows what was picked."""
    kept = [block for block in blocks if block.get("block_id") != QUICK_REPLIES_BLOCK]
    choice = {"type": "mrkdwn", "text": f"\u2713 {escape(chosen_title)}"}
    return [*kept, {"type": "context", "elements": [choice]}]


def clicked_button(payload: dict) -> dict | None:
    """The quick-reply button of a block_actions payload, if that is what was clicked."""
    for action in payload.get("actions") or []:
        if action.get("block_id") == QUICK_REPLIES_BLOCK and isinstance(action.get("value"), str):
            return action
    return None
