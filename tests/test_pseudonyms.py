"""Sender ids in logs and the audit log are keyed hashes: stable under one salt, different
under another, and never the id itself."""

from __future__ import annotations

import hashlib
import logging

from bot.channels.base import InboundMessage
from bot.dialogue.turn import Turn
from bot.moderation import Moderator
from bot.moderation.stages import SenderLimit
from bot.store import pseudonyms
from supportbot.config import ModerationConfig


def test_a_pseudonym_depends_on_the_secret_salt(monkeypatch) -> None:
    monkeypatch.setenv(pseudonyms.SALT_ENV, "salt-one")
    pseudonyms._salt.cache_clear()
    first = pseudonyms.pseudonym("ann@example.com")
    assert first == pseudonyms.pseudonym("ann@example.com") and first.startswith("id:")
    assert "ann" not in first
    unsalted = hashlib.sha256(b"ann@example.com").hexdigest()
    assert unsalted not in pseudonyms.keyed_hash("ann@example.com")
    monkeypatch.setenv(pseudonyms.SALT_ENV, "salt-two")
    pseudonyms._salt.cache_clear()
    assert pseudonyms.pseudonym("ann@example.com") != first
    pseudonyms._salt.cache_clear()


async def test_a_rate_limited_sender_is_logged_by_pseudonym(caplog) -> None:
    stage = SenderLimit(Moderator(ModerationConfig(rate_limit_messages=1, use_classifier=False)))
    caplog.set_level(logging.INFO)

    async def answered() -> None:
        return None

    for _ in range(2):
        await stage(Turn(InboundMessage("bob@example.com", "hi", "rest"), "hi"), answered)
    assert "bob@example.com" not in caplog.text
    assert pseudonyms.pseudonym("bob@example.com") in caplog.text
