"""The `moderation:` section: what counts as personal data or abuse, and the per-sender
limits."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from supportbot.config.base import Strict

CHECKSUM_NAMES = ("none", "luhn", "us_ssn", "uk_nino")
"""The checksums a national id rule may name; bot/moderation/identifiers.py implements
exactly these (a test holds the two together)."""


class NationalIdRule(Strict):
    """One national identifier format: a regex and the checksum a match must pass."""

    name: str
    pattern: str
    checksum: str = "none"
    ignore_case: bool = False
    min_digits: int = Field(default=0, ge=0)
    """Digits every match holds: a message with fewer is not searched (most messages have
    none, and the search runs several times a turn). 0 searches every message."""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
        return value

    @field_validator("checksum")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CHECKSUM_NAMES:
            raise ValueError(
                f"unknown checksum {value!r}; one of {', '.join(sorted(CHECKSUM_NAMES))}"
            )
        return value


DEFAULT_NATIONAL_IDS = [
    NationalIdRule(
        name="us_ssn",
        pattern=r"(?<![\d-])\d{3}[- ]\d{2}[- ]\d{4}(?![\d-])",
        checksum="us_ssn",
        min_digits=9,
    ),
    NationalIdRule(
        name="uk_nino",
        pattern=r"\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        checksum="uk_nino",
        ignore_case=True,
        min_digits=6,
    ),
]


class ModerationConfig(Strict):
    """What counts as personal data or abuse, and the per-sender limits."""

    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB"])
    """Regions whose national phone formats (no +country code) are recognised."""
    national_ids: list[NationalIdRule] = Field(default_factory=lambda: list(DEFAULT_NATIONAL_IDS))
    offensive_threshold: float = Field(default=0.9, gt=0, lt=1)
    """Classifier probability from which a message is profane, or, in a clause naming the bot
    or company, an insult. The model's own 0.5 marked 0.2 % of real customer messages
    ("eat", "die", "tires"); 0.9 kept only profane ones (see docs/benchmarks.md)."""
    use_classifier: bool = True
    extra_profanity: list[str] = Field(default_factory=list)
    extra_insults: list[str] = Field(default_factory=list)
    strikes_for_handoff: int = Field(default=3, ge=1)
    """Insults from one sender within `strike_window_seconds` that end in a handoff."""
    strike_window_seconds: float = Field(default=900, gt=0)
    rate_limit_messages: int = Field(default=20, ge=1)
    rate_limit_seconds: float = Field(default=60, gt=0)
    address_rate_limit_messages: int = Field(default=600, ge=1)
    """Messages one client address may send per `rate_limit_seconds`, whatever senders
    it names (REST and web chat), so rotating the sender id does not escape the limit.
    Loose, because customers behind one NAT share an address."""
    address_limit_exempt: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    """Addresses the address limit does not count (default: this host, so a local proxy
    not yet listed in `server.trusted_proxies`, or a load test, is not throttled as one
    client); `[]` counts every address."""
    repeat_limit: int = Field(default=3, ge=2)
    """The n-th identical message within `repeat_window_seconds` is damped, not answered again."""
    repeat_window_seconds: float = Field(default=60, gt=0)
    max_tracked_senders: int = Field(default=10_000, ge=1)

    @field_validator("address_limit_exempt")
    @classmethod
    def _exempt_networks(cls, entries: list[str]) -> list[str]:
        from supportbot.config.server import parse_networks

        parse_networks(entries)
        return entries
