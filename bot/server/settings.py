"""What `create_app` is given: the server's settings and the parts it owns."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.channels.slack.settings import SlackSettings
from bot.dialogue.memory import HandoffStates
from bot.store.conversation_log import ConversationStore
from retrieval.bot_model import ServedModel
from supportbot.config import (
    ActionsConfig,
    MetricsConfig,
    ModerationConfig,
    PrivacyConfig,
    WebchatSettings,
)
from supportbot.config.dialogue import DialogueConfig


@dataclass
class ServerSettings:
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    max_batch: int = 32
    model_batches_in_flight: int = 2
    """Model batches run at once (bot/server/batching.py): two overlap one batch's retrieval with
    the next one's encoding."""
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    admin_token: str | None = None
    rest_token: str | None = None
    expose_parse: bool = False
    """Serve /model/parse without the admin token (`supportbot serve --expose-parse`)."""
    """Bearer token REST clients must send (`channels.rest.token_env`); None: open."""
    """Bearer token for /admin/*; None disables those endpoints."""
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)
    actions: ActionsConfig | None = None
    """Custom actions (bot/dialogue/stages/actions.py); None: the bot has none."""
    max_pending_turns: int = 256
    """Turns in progress at once; beyond it requests get 503 with Retry-After."""
    retry_after_seconds: int = 1
    body_timeout_seconds: float = 10.0
    """A request body not fully arrived by then gets 408 (bot/server/admission.py)."""
    slow_bodies_per_client: int = 16
    """Requests one client address may have with their body still arriving; beyond: 429."""
    header_timeout_seconds: float = 15.0
    """A connection must send a request's headers within this, and may stay idle between
    requests this long (aiohttp's keep-alive timeout, which runs from connection start)."""
    shutdown_timeout_seconds: float = 30.0
    """How long shutdown waits for the turns in progress."""
    slack: SlackSettings | None = None
    """Tokens resolved from the environment (bot.channels.slack.settings); None: no Slack."""
    webchat: WebchatSettings = field(default_factory=WebchatSettings)
    trusted_proxies: list[str] = field(default_factory=list)
    """Proxies whose X-Forwarded-For names the client (bot/server/forwarded.py)."""
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    """`GET /metrics` (bot/server/metrics.py): on, behind the admin token, by default."""


@dataclass
class AppDeps:
    model: ServedModel
    store: ConversationStore
    states: HandoffStates | None = None
    """Conversation state; default: a table in the SQLite log file (or in memory)."""
