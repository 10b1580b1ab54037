"""The `channels.webchat` settings: the embeddable web chat widget and its endpoints.

Kept apart from the channel so the project config can import it without aiohttp.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot import messages


class WebchatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Serve the widget, its WebSocket and REST endpoints under /webchat."""
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    """Pages allowed to embed the widget, as origins (`https://shop.example`); "*": any."""
    title: str = Field(default=messages.WEBCHAT_TITLE, min_length=1, max_length=80)
    greeting: str = Field(default=messages.GREETING, max_length=500)
    """Shown as the bot's first message of every conversation (not logged as a turn)."""
    session_ttl_days: float = Field(default=30.0, gt=0)
    """A session unused for this long is forgotten; the browser then starts a new one."""
    session_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    """How often expired sessions are deleted from the log file while the server runs."""
    sessions_per_minute: int = Field(default=10, ge=1, le=10_000)
    """New sessions one client address may open per minute (REST or WebSocket); beyond it
    the client gets HTTP 429 with Retry-After, or an error frame."""
    history_turns: int = Field(default=50, ge=1, le=500)
    """Turns replayed when the page is reloaded."""
    demo_page: bool = True
    """Serve a page at `/` that embeds the widget (what `supportbot demo` shows)."""

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r}: expected '*' or an origin like https://host")
        return [origin.rstrip("/") for origin in origins]

    def allows(self, origin: str | None) -> bool:
        """Whether a request from this Origin may use the widget; no Origin header (a
        same-origin GET, a server-side client) is allowed."""
        return origin is None or "*" in self.allowed_origins or origin in self.allowed_origins
