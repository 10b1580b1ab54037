"""The `supportbot.yml` schema: one module per top-level section, `project` for the whole.

Importing this package loads pydantic and PyYAML, nothing of the runtime, so training and
tools read a project's config without loading the server.
"""

from supportbot.config.actions import ActionsConfig, LocalActionsConfig, RemoteActionsConfig
from supportbot.config.channels import ChannelsConfig, SlackConfig, WebchatSettings
from supportbot.config.data import DataSource
from supportbot.config.dialogue import DialogueConfig, FormSpec, HandoffConfig, SlotSpec
from supportbot.config.learning import LearningConfig
from supportbot.config.moderation import ModerationConfig, NationalIdRule
from supportbot.config.privacy import PrivacyConfig
from supportbot.config.project import (
    CONFIG_FILENAME,
    BotConfig,
    format_validation_error,
    load_config,
)
from supportbot.config.retrieval import RetrievalConfig
from supportbot.config.server import MetricsConfig, ServerConfig, parse_networks
from supportbot.config.training import FEATURE_LAYER_CHOICES, TrainingConfig

__all__ = [
    "CONFIG_FILENAME",
    "FEATURE_LAYER_CHOICES",
    "ActionsConfig",
    "BotConfig",
    "ChannelsConfig",
    "DataSource",
    "DialogueConfig",
    "FormSpec",
    "HandoffConfig",
    "LearningConfig",
    "LocalActionsConfig",
    "MetricsConfig",
    "ModerationConfig",
    "NationalIdRule",
    "PrivacyConfig",
    "RemoteActionsConfig",
    "RetrievalConfig",
    "ServerConfig",
    "SlackConfig",
    "SlotSpec",
    "TrainingConfig",
    "WebchatSettings",
    "format_validation_error",
    "load_config",
    "parse_networks",
]
