"""Moderation of what comes in and goes out, and redaction of personal data.

Submodules: `text` (normalisation), `pii` and `identifiers` (personal data), `abuse`,
`offensive` and `wordlists` (abusive language), `injection` (instructions aimed at the
bot), `guards` (per-sender limits), `verdict` (the combined decision), `output`
(replies), `stages` (the pipeline middleware), `config` (settings).
"""

from bot.moderation.identifiers import luhn_valid
from bot.moderation.pii import PiiDetector, PiiSpan, find_pii, redact
from bot.moderation.text import normalise_text
from bot.moderation.verdict import Check, ModerationVerdict, Moderator, check_message
from supportbot.config.moderation import ModerationConfig
from supportbot.config.privacy import PrivacyConfig

__all__ = [
    "Check",
    "ModerationConfig",
    "ModerationVerdict",
    "Moderator",
    "PiiDetector",
    "PiiSpan",
    "PrivacyConfig",
    "check_message",
    "find_pii",
    "luhn_valid",
    "normalise_text",
    "redact",
]
