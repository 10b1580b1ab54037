"""The one normalised inbound message and outbound reply every channel speaks.

Platform quirks (Slack threads, widget sessions) stay in that channel's own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from bot.server.settings import ServerSettings


OTHER_CHANNELS_PREFIXES = ("slack:", "webchat-")
"""How the Slack and web chat channels' conversation ids begin (bot/channels/slack/messages.py,
bot/channels/webchat/sessions.py). The server makes those ids; a channel whose callers name
their own conversation (REST) must refuse names in these namespaces, or an anonymous call
could write into, or hand off, another channel's conversation."""


@dataclass(frozen=True)
class QuickReply:
    title: str
    payload: str


@dataclass(frozen=True)
class InboundMessage:
    sender_id: str
    text: str
    channel: str
    metadata: dict = field(default_factory=dict)
    client_address: str | None = None
    """The client's network address (behind a trusted proxy, the one it names), for the
    per-address rate limit; None where the platform relays the message (Slack)."""


@dataclass(frozen=True)
class OutboundReply:
    text: str
    buttons: tuple[QuickReply, ...] = ()

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
        }


class ChannelModule(Protocol):
    """What every channel module provides for bot/server/app.py to mount it.

    `add_routes` adds the channel's endpoints when it is configured, and its lifecycle as
    an aiohttp cleanup context: started after the dialogue runtime (its parts are then
    under bot.app_keys) and stopped, its own background turns drained, before the runtime
    closes. Platform quirks (Slack threads, widget sessions) stay in the channel's module.
    """

    def add_routes(self, app: web.Application, settings: ServerSettings) -> None: ...
