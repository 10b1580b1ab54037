"""The one typed configuration of a bot project (`supportbot.yml`), validated at start-up.

Unknown keys are errors (`extra="forbid"`), and every error names its key path, e.g.
`training.epochs: Input should be greater than 0`. Each top-level section has a module
of its own beside this one.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from supportbot.config.actions import ActionsConfig
from supportbot.config.base import Strict
from supportbot.config.channels import ChannelsConfig
from supportbot.config.data import DataSource
from supportbot.config.dialogue import DialogueConfig
from supportbot.config.learning import LearningConfig
from supportbot.config.moderation import ModerationConfig
from supportbot.config.privacy import PrivacyConfig
from supportbot.config.retrieval import RetrievalConfig
from supportbot.config.server import ServerConfig
from supportbot.config.training import TrainingConfig
from supportbot.errors import ConfigError

CONFIG_FILENAME = "supportbot.yml"


class BotConfig(Strict):
    """A bot project: what to train from and how."""

    name: str = "supportbot"
    language: str = "en"
    data: list[str | DataSource] = Field(default_factory=lambda: list[str | DataSource](["data"]))
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    dialogue: DialogueConfig = Field(default_factory=DialogueConfig)
    actions: ActionsConfig | None = None
    """Custom actions (rasa-sdk): in-process from a package, or on an action server."""
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    channels: ChannelsConfig = Field(default_factory=ChannelsConfig)
    learning: LearningConfig = Field(default_factory=LearningConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    def sources(self, root: Path) -> list[DataSource]:
        """Data sources with paths resolved against the project folder."""
        resolved = []
        for item in self.data:
            source = DataSource(path=item) if isinstance(item, str) else item
            resolved.append(source.model_copy(update={"path": str(root / source.path)}))
        return resolved


def format_validation_error(error: ValidationError, where: str) -> str:
    """One line per problem, each naming the dotted key path."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{where}: {key}: {problem['msg']}")
    return "\n".join(lines)


def load_config(path: Path) -> BotConfig:
    """Read and validate a `supportbot.yml`; raise ConfigError naming file and key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: not valid YAML") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path))) from exc
