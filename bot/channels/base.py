"""The one normalised inbound message and outbound reply every channel speaks.

Platform quirks (Slack threads, widget sessions) stay in that channel's own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class OutboundReply:
    text: str
    buttons: tuple[QuickReply, ...] = ()

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "buttons": [{"title": b.title, "payload": b.payload} for b in self.buttons],
        }
