"""The dialogue manager's middleware chain: order, short-circuits, and stages that
deployments add after the manager was built."""

from __future__ import annotations

import asyncio

from bot.channels.base import InboundMessage
from bot.dialogue.manager import DialogueManager
from bot.dialogue.turn import Turn


def recording(name: str, seen: list[str]):
    async def stage(turn: Turn, next_stage) -> None:
        seen.append(f"{name} in")
        await next_stage()
        seen.append(f"{name} out")

    return stage


def message(sender: str = "ann") -> InboundMessage:
    return InboundMessage(sender, "hello", "test")


async def test_stages_wrap_each_other_in_order():
    seen: list[str] = []
    manager = DialogueManager([recording("a", seen), recording("b", seen), recording("c", seen)])
    await manager.handle(message())
    assert seen == ["a in", "b in", "c in", "c out", "b out", "a out"]


async def test_a_stage_that_does_not_call_next_ends_the_turn_there():
    seen: list[str] = []

    async def answer(turn: Turn, next_stage) -> None:
        turn.dispatcher.utter("answered early")

    manager = DialogueManager([recording("a", seen), answer, recording("never", seen)])
    replies = await manager.handle(message())
    assert [reply.text for reply in replies] == ["answered early"]
    assert seen == ["a in", "a out"]


async def test_a_stage_added_to_a_built_manager_runs_on_the_next_turn():
    seen: list[str] = []
    manager = DialogueManager([recording("a", seen)])
    manager.stages.append(recording("added", seen))
    await manager.handle(message())
    assert seen == ["a in", "added in", "added out", "a out"]


async def test_each_turn_gets_its_own_chain_across_awaits():
    async def reply_own_sender(turn: Turn, next_stage) -> None:
        await asyncio.sleep(0)  # the other turns run meanwhile
        turn.dispatcher.utter(turn.message.sender_id)
        await next_stage()

    manager = DialogueManager([recording("a", []), reply_own_sender])
    senders = [f"customer-{number}" for number in range(8)]
    replies = await asyncio.gather(*(manager.handle(message(s)) for s in senders))
    assert [r[0].text for r in replies] == senders


def test_every_stage_of_the_default_chain_has_a_name_of_its_own():
    from bot.dialogue.manager import stage_name
    from bot.dialogue.pipeline import default_stages
    from bot.dialogue.small_talk import REPLIES
    from supportbot.turn_actions import SMALL_TALK

    class Model:
        version = "m"

    class Store:
        history = None

    names = [
        stage_name(s)
        for s in default_stages(model=Model(), store=Store(), analyse=None, max_chars=10)
    ]
    assert names == [
        "sender_limit",
        "log_turns",
        "error_boundary",
        "start_analysis",
        "moderate_out",
        "moderate_in",
        "understand",
        "response_policy",
    ]
    assert set(REPLIES) == SMALL_TALK
