"""Custom actions in the running bot: REST message -> intent (or finished form) -> rasa-sdk
action, in-process and on a real `python -m rasa_sdk` server on loopback, with the slots in
the SQLite conversation state and the failure path (apology + handoff offer)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import sqlite_utils

from bot import messages
from bot.actions import ActionResult
from bot.actions.events import FollowupAction
from bot.actions.testing import action_server, free_port
from bot.channels.base import InboundMessage
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.stages.actions import ActionPolicy, actions_from_config
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from bot.handoff.notifier import HandoffNotifier
from bot.server.settings import ServerSettings
from supportbot.config import LocalActionsConfig, RemoteActionsConfig
from supportbot.config.dialogue import DialogueConfig, FormSpec, HandoffConfig, SlotSpec
from supportbot.errors import ConfigError
from supportbot.testing import live_server
from supportbot.testing.agents import acknowledging_desk

WEBHOOK = "/webhooks/rest/webhook"
PACKAGE = "tests.action_fixtures"
INTENTS = {
    "order_status": "action_check_order",
    "goodbye": "action_handoff",
    "shipping_time": "action_validate_order",
}
ORDER_FORM = FormSpec(
    intent="return_item",
    slots=[SlotSpec(name="order_id", question="What is your order number?")],
    action="action_check_order",
)
APOLOGY = [
    {
        "recipient_id": "ben",
        "text": messages.ERROR_APOLOGY,
        "buttons": [{"title": messages.HANDOFF_OFFER, "payload": "/human_handoff"}],
    }
]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with action_server(PACKAGE, tmp_path_factory.mktemp("action-server")) as url:
        yield url


def settings_for(actions, forms=(ORDER_FORM,)) -> ServerSettings:
    return ServerSettings(actions=actions, dialogue=DialogueConfig(forms=list(forms)))


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> list[dict]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": text}) as response:
        assert response.status == 200
        return await response.json()


def stored_state(db_path: Path, conversation_id: str) -> dict:
    [row] = sqlite_utils.Database(db_path).query(
        "SELECT state FROM conversation_state WHERE conversation_id = ?", [conversation_id]
    )
    return json.loads(row["state"])


def logged_turns(db_path: Path) -> list[dict]:
    return list(sqlite_utils.Database(db_path)["turns"].rows_where(order_by="id"))


@pytest.mark.parametrize("kind", ["local", "remote"])
async def test_form_and_intent_run_the_action_and_set_slots(tiny_model, tmp_path, kind, request):
    if kind == "local":
        actions = LocalActionsConfig(kind="local", package=PACKAGE, intents=INTENTS)
    else:
        url = request.getfixturevalue("server_url")
        actions = RemoteActionsConfig(kind="remote", url=url, intents=INTENTS)
    shipped = {
        "recipient_id": "ana",
        "text": "Order A-17 has shipped.",
        "buttons": [{"title": "Track it", "payload": "/track_order"}],
    }
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings_for(actions)) as live,
        aiohttp.ClientSession() as session,
    ):
        first = await say(session, live.url, "ana", "I want to return an item")
        assert [reply["text"] for reply in first] == ["What is your order number?"]
        assert await say(session, live.url, "ana", "A-17") == [shipped]
        state = stored_state(live.db_path, "ana")
        assert state["slots"] == {"order_status": "shipped", "order_id": "A-17"}
        assert state["active_form"] is None
        assert await say(session, live.url, "ana", "where is my order?") == [shipped]

    rows = logged_turns(tmp_path / "log.db")
    assert [row["action"] for row in rows] == ["form", "action", "action"]
    assert json.loads(rows[1]["metadata"]) == {
        "actions": ["action_check_order"],
        "slots_set": ["order_id", "order_status"],
    }
    assert rows[2]["intent"] == "order_status"


async def test_pause_event_hands_off_and_followup_answers(tiny_model, tmp_path):
    actions = LocalActionsConfig(kind="local", package=PACKAGE, intents=INTENTS)
    async with acknowledging_desk() as desk:
        handoff = DialogueConfig(handoff=HandoffConfig(webhook_url=desk.url))
        settings = dataclasses.replace(settings_for(actions), dialogue=handoff)
        await _paused_by_the_action(tiny_model, tmp_path, settings)


async def _paused_by_the_action(tiny_model, tmp_path, settings) -> None:
    """An external desk acknowledged the handoff the action asked for: the bot goes silent."""
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings) as live,
        aiohttp.ClientSession() as session,
    ):
        replies = await say(session, live.url, "cy", "bye")
        assert [reply["text"] for reply in replies] == ["A colleague will take it from here."]
        state = stored_state(live.db_path, "cy")
        assert (state["status"], state["handoff_reason"]) == ("handed_off", "action action_handoff")
        assert await say(session, live.url, "cy", "hello?") == []
    [first, _] = logged_turns(tmp_path / "log.db")
    assert first["action"] == "handoff"
    assert json.loads(first["metadata"])["actions"] == ["action_handoff", "action_confirm_handoff"]


async def test_rejections_fall_back_to_the_response_or_ask_again(tiny_model, tmp_path):
    """A rejecting intent action leaves the turn to the intent's own response; a form's
    rejecting action asks the form's question again."""
    form = ORDER_FORM.model_copy(update={"action": "action_validate_order"})
    actions = LocalActionsConfig(kind="local", package=PACKAGE, intents=INTENTS)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings_for(actions, [form])) as live,
        aiohttp.ClientSession() as session,
    ):
        [reply] = await say(session, live.url, "di", "how long does delivery take?")
        assert reply["text"] == tiny_model.responses["shipping_time"][0].text
        await say(session, live.url, "di", "I want to return an item")
        [again] = await say(session, live.url, "di", "A-17")
        assert again["text"] == f"{messages.FORM_INVALID['text']} What is your order number?"
        assert stored_state(live.db_path, "di")["requested_slot"] == "order_id"
    first = logged_turns(tmp_path / "log.db")[0]
    assert first["action"] == "intent_response"
    assert json.loads(first["metadata"])["action_rejected"] == "action_validate_order"


async def test_action_server_down_gives_apology_and_handoff_offer(tiny_model, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    actions = RemoteActionsConfig(kind="remote", url=url, timeout_seconds=2, intents=INTENTS)
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings_for(actions)) as live,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        assert await say(session, live.url, "ben", "where is my order?") == APOLOGY
        assert time.monotonic() - started < 2
    [row] = logged_turns(tmp_path / "log.db")
    assert row["action"] == "action_failed"
    assert json.loads(row["metadata"])["action_error"] == {
        "action": "action_check_order",
        "reason": "unreachable",
        "detail": f"cannot reach {url}/webhook: ClientConnectorError",
    }


async def test_slow_action_times_out_into_the_apology(tiny_model, tmp_path):
    actions = LocalActionsConfig(
        kind="local", package=PACKAGE, timeout_seconds=0.5, intents={"order_status": "action_slow"}
    )
    async with (
        live_server(tiny_model, tmp_path / "log.db", settings_for(actions)) as live,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        assert await say(session, live.url, "ben", "where is my order?") == APOLOGY
        assert time.monotonic() - started < 2
    [row] = logged_turns(tmp_path / "log.db")
    assert json.loads(row["metadata"])["action_error"]["reason"] == "timeout"


class LoopingRunner:
    """Every action asks for itself again: the followup limit must stop it."""

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, action_name, conversation) -> ActionResult:
        self.calls += 1
        return ActionResult(action_name, events=(FollowupAction(action_name),))

    async def close(self) -> None: ...


class MemoryStates:
    async def load_state(self, conversation_id: str) -> dict | None:
        return None

    async def save_state(self, conversation_id: str, state: dict) -> None: ...


async def test_followup_loop_is_stopped_at_the_limit() -> None:
    runner = LoopingRunner()
    config = LocalActionsConfig(kind="local", package="unused", max_followups=2)
    memory = ConversationMemory(DialogueConfig(), MemoryStates(), HandoffNotifier(None), str)
    turn = Turn(InboundMessage("eve", "hi", "test"), "hi", state=ConversationState("eve"))

    assert await ActionPolicy(runner, config, memory).run(turn, "action_loop") is True
    assert runner.calls == 3
    assert turn.metadata["actions"] == ["action_loop"] * 3
    assert turn.action == "action"


def test_actions_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError) as error:
        actions_from_config({"kind": "remote", "url": "ftp://x", "intents": {"a": "no spaces"}})
    assert str(error.value) == (
        "actions.intents: Value error, a: 'no spaces' is not an action name\n"
        "actions.url: Value error, must be an http(s) URL such as http://127.0.0.1:5055"
    )


async def test_a_form_action_without_actions_config_fails_at_start(tiny_model, tmp_path):
    with pytest.raises(ConfigError) as error:
        async with live_server(tiny_model, tmp_path / "log.db", settings_for(None)):
            pass
    assert str(error.value) == (
        "dialogue.forms.0.action: a form names a custom action, "
        "but the config has no `actions:` section"
    )


def test_a_form_needs_done_or_action() -> None:
    with pytest.raises(ValueError, match="a form needs `done`"):
        FormSpec(intent="x", slots=[SlotSpec(name="a", question="A?")])
