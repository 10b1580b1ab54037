"""The `actions:` section of the bot config: custom actions (rasa-sdk), in-process or on
an action server.

    actions:
      kind: remote            # or: local
      url: http://127.0.0.1:5055
      timeout_seconds: 5
      intents:                # a confident intent runs its action instead of a response
        order_status: action_check_order
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from supportbot.config.base import Strict

MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

Timeout = Annotated[float, Field(gt=0, le=120)]
ACTION_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


class _WhenToRun(Strict):
    """What both kinds share: which intents run which action, and the followup limit."""

    intents: dict[str, str] = Field(default_factory=dict)
    """Intent name -> action name, like a Rasa rule `intent: x` then `action: y`."""
    max_followups: int = Field(5, ge=0, le=10)
    """`FollowupAction`s run in one turn at most; more is taken for a loop and stopped."""

    @field_validator("intents")
    @classmethod
    def _action_names(cls, value: dict[str, str]) -> dict[str, str]:
        for intent, action in value.items():
            if not ACTION_NAME.match(action):
                raise ValueError(f"{intent}: {action!r} is not an action name")
        return value


class LocalActionsConfig(_WhenToRun):
    """Actions imported from a Python package and run in the bot's process."""

    kind: Literal["local"]
    package: str
    timeout_seconds: Timeout = 5.0
    max_threads: int = Field(4, ge=1, le=64)

    @field_validator("package")
    @classmethod
    def _module_path(cls, value: str) -> str:
        if not MODULE_PATH.match(value):
            raise ValueError("must be a Python module path such as `actions` or `my_bot.actions`")
        return value


class RemoteActionsConfig(_WhenToRun):
    """Actions served by a rasa-sdk action server (`python -m rasa_sdk`)."""

    kind: Literal["remote"]
    url: str
    timeout_seconds: Timeout = 5.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:5055")
        return value


ActionsConfig = Annotated[LocalActionsConfig | RemoteActionsConfig, Field(discriminator="kind")]
