"""The same rasa-sdk actions through both runners: in-process, and on a real rasa-sdk
action server started on a loopback port (once per module)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot import messages
from bot.actions import (
    ActionRunner,
    ConversationView,
    FailureReason,
    LatestMessage,
    apply_events,
    build_domain,
    replies_for,
)
from bot.actions.events import (
    ActiveLoop,
    ConversationPaused,
    FollowupAction,
    SlotSet,
    UnknownEvent,
)
from bot.actions.local import LocalActionRunner
from bot.actions.remote import RemoteActionRunner
from bot.actions.testing import action_server
from bot.channels.base import OutboundReply, QuickReply

PACKAGE = "tests.action_fixtures"
TIMEOUT = 5.0
DOMAIN = build_domain(intents=["order_status", "human_handoff"], slots=["order_id"])


@pytest.fixture(scope="module")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("action-server")


@pytest.fixture(scope="module")
def server_url(server_dir: Path) -> Iterator[str]:
    with action_server(PACKAGE, server_dir) as url:
        yield url


@pytest.fixture(params=["local", "remote"])
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[ActionRunner]:
    runner = make_runner(request.param, request, TIMEOUT)
    yield runner
    await runner.close()


def make_runner(kind: str, request: pytest.FixtureRequest, timeout: float) -> ActionRunner:
    """The server is started only when a remote runner is first asked for."""
    if kind == "local":
        return LocalActionRunner(PACKAGE, DOMAIN, timeout)
    return RemoteActionRunner(request.getfixturevalue("server_url"), DOMAIN, timeout)


def customer(text: str = "where is order A-17?", **kwargs) -> ConversationView:
    message = LatestMessage(
        text,
        "order_status",
        0.93,
        entities=({"entity": "order_id", "value": "A-17", "start": 15, "end": 19},),
    )
    return ConversationView("cust-1", **kwargs).with_message(message)


def test_action_server_listens_on_loopback_only(server_url: str, server_dir: Path) -> None:
    log = (server_dir / "action_server.log").read_text()
    assert server_url.startswith("http://127.0.0.1:")
    assert f"Action endpoint is up and running on {server_url}" in log


async def test_message_with_button_and_slot_events(runner: ActionRunner) -> None:
    view = customer(slots={"order_id": None, "order_status": None})
    result = await runner.run("action_check_order", view)

    assert not result.failed
    assert [m.text for m in result.messages] == ["Order A-17 has shipped."]
    assert result.messages[0].buttons == ({"title": "Track it", "payload": "/track_order"},)
    assert result.events == (SlotSet("order_status", "shipped"), SlotSet("order_id", "A-17"))
    assert replies_for(result) == [
        OutboundReply("Order A-17 has shipped.", (QuickReply("Track it", "/track_order"),))
    ]
    after = apply_events(view, result.events, "action_check_order")
    assert after.slots == {"order_id": "A-17", "order_status": "shipped"}
    assert after.latest_action_name == "action_check_order"
    assert [e["event"] for e in after.events] == ["user", "slot", "slot", "action"]


async def test_action_sees_the_tracker_and_domain(runner: ActionRunner) -> None:
    view = customer(slots={"order_id": "A-9"}, active_loop="order_form")
    result = await runner.run("action_describe_tracker", view)

    assert result.events == (
        SlotSet(
            "seen",
            {
                "sender_id": "cust-1",
                "text": "where is order A-17?",
                "intent": "order_status",
                "confidence": 0.93,
                "entities": ["A-17"],
                "slot": "A-9",
                "active_loop": "order_form",
                "last_event": "user",
                "domain_intents": ["order_status", "human_handoff"],
            },
        ),
    )
    assert result.messages[0].image == "https://example.com/label.png"
    assert result.messages[0].custom == {"k": 1}


async def test_followup_pause_and_closing_the_form(runner: ActionRunner) -> None:
    view = customer(active_loop="order_form")
    result = await runner.run("action_handoff", view)

    assert result.events == (
        ActiveLoop(None),
        ConversationPaused(),
        FollowupAction("action_confirm_handoff"),
    )
    assert result.followup == "action_confirm_handoff"
    after = apply_events(view, result.events, "action_handoff")
    assert after.paused and after.active_loop is None

    followup = await runner.run(result.followup, after)
    assert [m.text for m in followup.messages] == ["A colleague will take it from here."]


async def test_rejection_is_a_failure_the_form_can_handle(runner: ActionRunner) -> None:
    result = await runner.run("action_validate_order", customer())

    assert result.failed and result.rejected
    assert result.reason is FailureReason.REJECTED
    assert result.detail == "order number missing"
    assert result.messages == () and result.events == ()


async def test_unknown_action_name(runner: ActionRunner) -> None:
    result = await runner.run("action_does_not_exist", customer())

    assert result.reason is FailureReason.NOT_FOUND
    assert "'action_does_not_exist'" in result.detail


async def test_action_that_raises_becomes_the_apology(runner: ActionRunner) -> None:
    result = await runner.run("action_crash", customer())

    assert result.reason is FailureReason.ERROR
    assert "4111" not in result.detail
    assert replies_for(result) == [
        OutboundReply(
            messages.ERROR_APOLOGY, (QuickReply(messages.HANDOFF_OFFER, "/human_handoff"),)
        )
    ]


async def test_unknown_and_malformed_events_are_kept_not_fatal(
    runner: ActionRunner, caplog: pytest.LogCaptureFixture
) -> None:
    result = await runner.run("action_odd_events", customer())

    assert not result.failed
    kinds = [type(event) for event in result.events]
    assert kinds == [UnknownEvent, UnknownEvent, FollowupAction, SlotSet]
    assert result.events[0].event == "reminder"
    assert result.events[1] == UnknownEvent("slot", {"event": "slot", "value": "no name"})
    assert "returned event 'reminder', which this bot does not act on" in caplog.text
    assert "returned a malformed 'slot' event: needs a non-empty string `name`" in caplog.text


@pytest.mark.parametrize("runner_kind", ["local", "remote"])
async def test_slow_action_times_out_instead_of_hanging(
    runner_kind: str, request: pytest.FixtureRequest
) -> None:
    runner = make_runner(runner_kind, request, timeout=0.5)
    started = time.perf_counter()
    try:
        result = await runner.run("action_slow", customer())
    finally:
        await runner.close()
    elapsed = time.perf_counter() - started

    assert result.reason is FailureReason.TIMEOUT
    assert elapsed < 2.0
    assert "0.5s" in result.detail
    assert replies_for(result)[0].text == messages.ERROR_APOLOGY
