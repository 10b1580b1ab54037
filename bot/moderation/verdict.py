"""The moderation decision for one message: every check that ran, which rule fired, and
what was done, so the turn can be stored with it and retraining can filter on it."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from bot.moderation.abuse import AbuseDetector
from bot.moderation.guards import SenderGuard
from bot.moderation.injection import find_injection
from bot.moderation.pii import PiiDetector, PiiSpan
from bot.moderation.text import normalise_text
from supportbot.config.moderation import ModerationConfig
from supportbot.config.server import parse_networks

Action = Literal["allow", "warn", "block", "handoff", "damp"]
_SEVERITY = {"allow": 0, "warn": 1, "damp": 2, "handoff": 3, "block": 4}


@dataclass(frozen=True)
class Check:
    """One check's outcome: `check` (pii, abuse, injection...), the `rule` and the `action`."""

    check: str
    rule: str | None
    action: str
    score: float | None = None

    def to_json(self) -> dict:
        data = {"check": self.check, "rule": self.rule, "action": self.action}
        return data | ({"score": self.score} if self.score is not None else {})


@dataclass(frozen=True)
class ModerationVerdict:
    """What to do with a message and why. `text` is the normalised message; `pii` holds the
    personal data found in it (for this turn's own use, never stored)."""

    action: Action
    rule: str | None
    text: str
    checks: tuple[Check, ...] = ()
    pii: tuple[PiiSpan, ...] = field(default=(), repr=False)
    abuse: str = "none"

    @property
    def flags(self) -> list[str]:
        """Rules that fired, e.g. ["pii:EMAIL", "abuse:insult", "injection:fake_system_tag"]."""
        return [f"{c.check}:{c.rule}" for c in self.checks if c.rule is not None]

    def to_json(self) -> dict:
        """The stored form: decisions and rule names only, no personal data."""
        return {
            "action": self.action,
            "rule": self.rule,
            "abuse": self.abuse,
            "flags": self.flags,
            "checks": [check.to_json() for check in self.checks],
        }


class Moderator:
    """All inbound and outbound checks for one deployment, with per-sender memory."""

    def __init__(
        self,
        config: ModerationConfig | None = None,
        max_chars: int = 2000,
        clock: Callable[[], float] = time.monotonic,
        abuse: AbuseDetector | None = None,
    ):
        self.config = config or ModerationConfig()
        self.max_chars = max_chars
        self.pii = PiiDetector(self.config)
        self.abuse = abuse or AbuseDetector(self.config)
        self.guard = SenderGuard(self.config, clock)
        self.addresses = SenderGuard(self.config, clock)
        self._exempt = parse_networks(self.config.address_limit_exempt)

    def admit(self, sender_id: str, address: str | None = None) -> float | None:
        """None if the sender, and the address it writes from, may send now, else the
        seconds until they may."""
        wait = self.guard.admit(sender_id)
        if wait is not None or address is None or self._exempted(address):
            return wait
        return self.addresses.admit(address, self.config.address_rate_limit_messages)

    def _exempted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._exempt)

    def inbound(self, sender_id: str, raw_text: str) -> ModerationVerdict:
        """Judge one customer message; remembers repeats and insult strikes per sender."""
        text = normalise_text(raw_text)
        if not text:
            return ModerationVerdict("block", "empty", text, (Check("input", "empty", "block"),))
        if len(text) > self.max_chars:
            check = Check("input", "too_long", "block")
            return ModerationVerdict("block", "too_long", text, (check,))
        spans = tuple(self.pii.find(text))
        checks = [Check("pii", span.type, "redact") for span in spans]
        finding = self.abuse.assess(text)
        checks.extend(self._abuse_checks(sender_id, finding))
        injection = find_injection(text)
        if injection:
            checks.append(Check("injection", injection, "flag"))
        repeats = self.guard.repeat_count(sender_id, text)
        if repeats >= self.config.repeat_limit:
            checks.append(Check("repeat", f"repeat_{repeats}", "damp"))
        action, rule = _decide(checks)
        return ModerationVerdict(action, rule, text, tuple(checks), spans, finding.label)

    def _abuse_checks(self, sender_id: str, finding) -> list[Check]:
        if finding.label == "none":
            return []
        if finding.label == "threat":
            return [Check("abuse", finding.rule, "handoff", finding.score)]
        if finding.label == "profanity":
            return [Check("abuse", finding.rule, "soften", finding.score)]
        checks = [Check("abuse", finding.rule, "warn", finding.score)]
        strikes = self.guard.strike(sender_id)
        if strikes >= self.config.strikes_for_handoff:
            checks.append(Check("abuse", "repeated_abuse", "handoff"))
        return checks


def _decide(checks: list[Check]) -> tuple[Action, str | None]:
    """The most severe action wins; the rule is the one that asked for it. With nothing to
    act on, a flag (injection) or softened tone (profanity) is still named as the rule."""
    acting = [c for c in checks if c.action in _SEVERITY and c.action != "allow"]
    if acting:
        top = max(acting, key=lambda c: _SEVERITY[c.action])
        return cast(Action, top.action), top.rule
    for check in checks:
        if check.check in ("injection", "abuse"):
            return "allow", check.rule
    return "allow", None


def check_message(text: str, max_chars: int = 2000) -> ModerationVerdict:
    """Judge one message on its own, without per-sender memory (tools, tests)."""
    return _stateless(max_chars).inbound("", text)


_CACHE: dict[int, Moderator] = {}


def _stateless(max_chars: int) -> Moderator:
    moderator = _CACHE.get(max_chars) or _CACHE.setdefault(
        max_chars, Moderator(max_chars=max_chars)
    )
    moderator.guard = SenderGuard(moderator.config)
    return moderator
