"""Human handoff: when a person should take over, and telling the team that one should.

Once handed off, a conversation belongs to a person: the bot logs the customer's
messages but stays silent until an agent releases it (HTTP or `supportbot handoff`), so
bot and human never both answer.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import aiohttp

from bot.dialogue.small_talk import asks_if_human

log = logging.getLogger(__name__)

ASKS_FOR_HUMAN = re.compile(
    r"\b(?:talk|speak|chat|connect|transfer|put)\w*\s+(?:me\s+)?(?:to|with|through)\s+"
    r"(?:a|an|the|some|real|live|actual|\s)*(?:human|person|agent|operator|representative"
    r"|rep|someone|somebody|colleague|staff|people)\b"
    r"|\b(?:human|real person|live agent|live person|operator)\s*(?:please|pls|now)?\s*[.!]*$"
    r"|^\s*(?:agent|representative)\s*(?:please|pls|now)?\s*[.!]*\s*$",
    re.IGNORECASE,
)


ASKS_OUTRIGHT = re.compile(
    r"\b(?:i\s+(?:want|need|would\s+like)|i'?d\s+like|let\s+me|(?:can|could|may)\s+i"
    r"|please|(?:connect|transfer|put)\s+me)\b",
    re.IGNORECASE,
)


def asks_for_human(text: str) -> bool:
    """Whether a message asks for a person: "talk to a human", "operator please".

    "Am I talking to a real person?" and "are you human" ask what the bot is, and get an
    answer (bot/small_talk.py); they hand off only when they also ask outright ("are you
    human? I want to talk to a person")."""
    if not ASKS_FOR_HUMAN.search(text):
        return False
    return not asks_if_human(text) or bool(ASKS_OUTRIGHT.search(text))


class HandoffNotifier:
    """POSTs each handoff with its redacted transcript to a configured webhook.

    Delivery never holds up the conversation for longer than the timeout and never
    raises: a failed delivery is logged (with the conversation id, not its text) and the
    conversation is handed off all the same, where the team's queue can still find it.
    """

    def __init__(self, url: str | None, timeout_seconds: float = 5.0):
        self.url = url
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(
        self, conversation_id: str, reason: str, transcript: list[dict[str, Any]]
    ) -> bool:
        if not self.url:
            log.info(
                "handoff of conversation %s (%s); no webhook configured", conversation_id, reason
            )
            return False
        body = {
            "conversation_id": conversation_id,
            "reason": reason,
            "requested_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "transcript": transcript,
        }
        try:
            session = self._session or aiohttp.ClientSession(timeout=self.timeout)
            self._session = session
            async with session.post(self.url, json=body) as response:
                if response.status >= 300:
                    log.warning(
                        "handoff webhook answered %s for conversation %s",
                        response.status,
                        conversation_id,
                    )
                    return False
                return True
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "handoff webhook failed for conversation %s: %s",
                conversation_id,
                type(exc).__name__,
            )
            return False

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
