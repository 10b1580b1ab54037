"""The `privacy:` section: how long turns are kept, and what happens to them after."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from supportbot.config.base import Strict


class PrivacyConfig(Strict):
    """How long turns are kept, and what happens to them after."""

    retention_days: float | None = Field(default=None, gt=0)
    """Turns older than this are deleted or anonymised; None keeps them."""
    retention_mode: Literal["delete", "anonymise"] = "anonymise"
    retention_interval_seconds: float = Field(default=3600, gt=0)
