"""The dates a report is asked for: a UTC day (`2026-12-07`) or an ISO 8601 time. Shared
by `supportbot report` and `/admin/analytics`, so both read a range the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DATE_FORMS = "YYYY-MM-DD (UTC) or an ISO 8601 time"


def parse_time(text: str, *, end: bool = False) -> float:
    """A UTC timestamp; with `end`, a bare day means midnight after it (the day included).
    ValueError names what was expected."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a date ({DATE_FORMS})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and len(text.strip()) == 10:
        moment += timedelta(days=1)
    return moment.timestamp()


def now() -> float:
    return datetime.now(UTC).timestamp()
