"""The `channels:` section: the transports besides the REST API.

Tokens never live in the file: `channels.slack` names environment variables, which the
Slack channel reads at start-up (bot/channels/slack/settings.py).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from supportbot.config.base import Strict

SLACK_API_URL = "https://slack.com/api/"


class SlackConfig(Strict):
    """How the bot talks to one Slack workspace."""

    mode: Literal["events", "socket"] = "events"
    """events: Slack posts to /webhooks/slack/events (needs a public URL); socket: the bot
    opens a WebSocket to Slack (Socket Mode), for deployments without one."""
    bot_token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    """Only read in events mode: Socket Mode requests arrive over the authenticated socket."""
    app_token_env: str = "SLACK_APP_TOKEN"
    """Only read in socket mode: an app-level token (xapp-...) with connections:write."""
    api_url: str = SLACK_API_URL
    """The Web API base URL; override for a proxy or a test fake."""
    dedupe_ttl_hours: float = Field(default=24.0, gt=0)
    """How long a seen event_id is remembered (Slack retries within minutes)."""
    reply_in_thread: bool = True
    """In channels, answer in the thread of the mention (false: in the channel itself).
    Direct messages are answered where the user wrote."""


class WebchatSettings(Strict):
    """The embeddable web chat widget and its endpoints."""

    enabled: bool = True
    """Serve the widget, its WebSocket and REST endpoints under /webchat."""
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"])
    """Pages allowed to embed the widget, as origins (`https://shop.example`); "*": any."""
    title: str | None = Field(default=None, min_length=1, max_length=80)
    """The panel's title; None: the bot's own (`bot.messages.WEBCHAT_TITLE`)."""
    greeting: str | None = Field(default=None, max_length=500)
    """Shown as the bot's first message of every conversation (not logged as a turn);
    None: the bot's own (`bot.messages.GREETING`)."""
    session_ttl_days: float = Field(default=30.0, gt=0)
    """A session unused for this long is forgotten; the browser then starts a new one."""
    session_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    """How often expired sessions are deleted from the log file while the server runs."""
    sessions_per_minute: int = Field(default=10, ge=1, le=10_000)
    """New sessions one client address may open per minute (REST or WebSocket); beyond it
    the client gets HTTP 429 with Retry-After, or an error frame."""
    idle_timeout_seconds: float = Field(default=600.0, gt=0)
    """A socket that sends no frame for this long is closed (the widget reconnects when
    the customer writes again)."""
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


class RestConfig(Strict):
    """Rasa's REST channel (`POST /webhooks/rest/webhook`), always on."""

    token_env: str = "SUPPORTBOT_REST_TOKEN"
    """The environment variable holding the bearer token REST clients must send
    (`Authorization: Bearer ...`); while it is unset or empty the channel is open to any
    caller. The docker compose file requires it."""


class ChannelsConfig(Strict):
    """The transports besides the REST API, each off unless configured."""

    rest: RestConfig = Field(default_factory=RestConfig)
    slack: SlackConfig | None = None
    webchat: WebchatSettings = Field(default_factory=WebchatSettings)
    """The web chat widget; on unless `enabled: false` (it is what `supportbot demo` shows)."""
