"""In-process actions: discovery like rasa-sdk's executor, sync actions off the loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.actions import ConversationView, FailureReason, LatestMessage
from bot.actions.local import LocalActionRunner, discover_actions
from supportbot.errors import ConfigError

PACKAGE = "tests.action_fixtures"

ACTION = """
from rasa_sdk import Action

class {cls}(Action):
    def name(self):
        return "{name}"

    def run(self, dispatcher, tracker, domain):
        return []
"""


def write_package(root: Path, name: str, modules: dict[str, str]) -> None:
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    for module, source in modules.items():
        (package / f"{module}.py").write_text(source)


def test_discovers_actions_in_submodules_but_not_abstract_bases() -> None:
    assert sorted(discover_actions(PACKAGE)) == [
        "action_check_order",
        "action_confirm_handoff",
        "action_crash",
        "action_describe_tracker",
        "action_handoff",
        "action_odd_events",
        "action_slow",
        "action_slow_sync",
        "action_validate_order",
    ]


def test_only_the_configured_package_counts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    write_package(tmp_path, "other_actions", {"a": ACTION.format(cls="Other", name="action_other")})
    discover_actions("other_actions")

    assert "action_other" not in discover_actions(PACKAGE)


def test_missing_package_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as error:
        LocalActionRunner("no_such_actions_package")
    assert str(error.value) == (
        "actions.package: cannot import 'no_such_actions_package': "
        "ModuleNotFoundError: No module named 'no_such_actions_package'"
    )


def test_duplicate_action_names_are_a_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    twice = {
        "one": ACTION.format(cls="First", name="action_same"),
        "two": ACTION.format(cls="Second", name="action_same"),
    }
    write_package(tmp_path, "twice_actions", twice)

    with pytest.raises(ConfigError, match="action name 'action_same' is defined twice, by"):
        discover_actions("twice_actions")


def test_base_class_without_name_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    source = "from rasa_sdk import Action\n\nclass Base(Action):\n    pass\n"
    write_package(tmp_path, "nameless_actions", {"base": source})

    with pytest.raises(ConfigError) as error:
        discover_actions("nameless_actions")
    assert str(error.value) == (
        "actions.package: nameless_actions.base.Base does not implement name(); "
        "make a shared base class abstract (abc.ABC, @abstractmethod name)"
    )


async def test_slow_sync_action_times_out_without_blocking_the_loop() -> None:
    runner = LocalActionRunner(PACKAGE, timeout=0.2)
    view = ConversationView("cust-2").with_message(LatestMessage("hi"))
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        result = await runner.run("action_slow_sync", view)
    finally:
        ticker.cancel()
        await runner.close()

    assert result.reason is FailureReason.TIMEOUT
    assert result.detail == "action 'action_slow_sync' did not finish within 0.2s"
    assert time.perf_counter() - started < 0.9
    assert ticks >= 5
