"""The `actions:` config section: which runner, where, how long to wait."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from bot.actions import create_action_runner
from bot.actions.local import LocalActionRunner
from bot.actions.remote import RemoteActionRunner
from supportbot.config import ActionsConfig, LocalActionsConfig, RemoteActionsConfig

CONFIG = TypeAdapter(ActionsConfig)
REMOTE = {"kind": "remote", "url": "http://127.0.0.1:5055"}


def test_config_picks_the_runner_kind() -> None:
    local = CONFIG.validate_python({"kind": "local", "package": "tests.action_fixtures"})
    remote = CONFIG.validate_python({"kind": "remote", "url": "http://127.0.0.1:5055"})

    assert isinstance(local, LocalActionsConfig) and local.timeout_seconds == 5.0
    assert isinstance(remote, RemoteActionsConfig)
    assert isinstance(create_action_runner(local), LocalActionRunner)
    assert isinstance(create_action_runner(remote), RemoteActionRunner)


@pytest.mark.parametrize(
    ("raw", "location", "message"),
    [
        ({"kind": "remote", "url": "127.0.0.1:5055"}, ("remote", "url"), "http(s) URL"),
        ({"kind": "local", "package": "my/actions"}, ("local", "package"), "module path"),
        ({**REMOTE, "timeout_seconds": 0}, ("remote", "timeout_seconds"), "greater than 0"),
        ({**REMOTE, "retries": 3}, ("remote", "retries"), "Extra inputs"),
        ({"kind": "grpc"}, (), "does not match any of the expected tags"),
    ],
)
def test_bad_config_names_the_path(raw: dict, location: tuple, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        CONFIG.validate_python(raw)

    [problem] = error.value.errors()
    assert problem["loc"] == location
    assert message in problem["msg"]
