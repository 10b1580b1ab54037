"""Slack request signatures: HMAC-SHA256 of `v0:{timestamp}:{raw body}` with the signing
secret, compared in constant time (slack-sdk's SignatureVerifier), and a timestamp no
more than five minutes from now, so a captured request cannot be replayed later."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from slack_sdk.signature import Clock, SignatureVerifier

from bot.server.http_errors import RequestError

MAX_AGE_SECONDS = 5 * 60
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


class _Clock(Clock):
    """slack-sdk's clock, reading ours (tests move it)."""

    def __init__(self, now: Callable[[], float]):
        self._now = now

    def now(self) -> float:
        return self._now()


class SlackRequestVerifier:
    """Raises RequestError(401) with the reason; the body is never echoed."""

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._verifier = SignatureVerifier(signing_secret, clock=_Clock(clock))

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise RequestError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header", 401)
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise RequestError(f"{TIMESTAMP_HEADER} is not a Unix time", 401) from None
        if abs(self._clock() - sent_at) > MAX_AGE_SECONDS:
            raise RequestError(f"{TIMESTAMP_HEADER} is more than 5 minutes off the clock", 401)
        try:
            valid = self._verifier.is_valid(body, timestamp, signature)
        except UnicodeDecodeError:
            valid = False
        if not valid:
            raise RequestError(f"{SIGNATURE_HEADER} does not match the request body", 401)


def sign(signing_secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Slack would send with `body`; for tests and local tools."""
    signature = SignatureVerifier(signing_secret).generate_signature(
        timestamp=str(timestamp), body=body
    )
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature or ""}
