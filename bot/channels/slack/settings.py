"""The Slack settings resolved from the `channels.slack` block of `supportbot.yml`.

Tokens never live in the file: the config names environment variables, and `resolve`
reads them at start-up, failing with the key and the variable when one is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from supportbot.config.channels import SlackConfig
from supportbot.errors import ConfigError

CONFIG_KEY = "channels.slack"


@dataclass(frozen=True)
class SlackSettings:
    """A SlackConfig with its secrets read from the environment."""

    config: SlackConfig
    bot_token: str = field(repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)


def resolve(config: SlackConfig, environ: Mapping[str, str] | None = None) -> SlackSettings:
    """Read the tokens this mode needs; raise ConfigError naming key and variable if unset."""
    environ = os.environ if environ is None else environ
    needed = ["bot_token_env"]
    needed.append("signing_secret_env" if config.mode == "events" else "app_token_env")
    values = {}
    for key in needed:
        variable = getattr(config, key)
        value = (environ.get(variable) or "").strip()
        if not value:
            raise ConfigError(f"{CONFIG_KEY}.{key}: environment variable {variable} is not set")
        values[key] = value
    return SlackSettings(
        config=config,
        bot_token=values["bot_token_env"],
        signing_secret=values.get("signing_secret_env"),
        app_token=values.get("app_token_env"),
    )


def settings_from_config(
    channels: object, environ: Mapping[str, str] | None = None
) -> SlackSettings | None:
    """The Slack settings for a model's stored `channels` block; None when Slack is not
    configured. Errors name the key path (`channels.slack.mode: ...`)."""
    if not isinstance(channels, dict) or channels.get("slack") is None:
        return None
    try:
        config = SlackConfig.model_validate(channels["slack"])
    except ValidationError as exc:
        problems = [
            f"{CONFIG_KEY}.{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
            for problem in exc.errors()
        ]
        raise ConfigError("\n".join(problems)) from None
    return resolve(config, environ)
