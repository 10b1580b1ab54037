"""What every section of `supportbot.yml` shares: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A config section that refuses keys it does not know (`extra="forbid"`)."""

    model_config = ConfigDict(extra="forbid")
