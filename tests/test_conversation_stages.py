"""Conversation state, handoff, forms and small talk through the dialogue manager.

The intent model is replaced by a scripted `understand` stage here so each rule is tested
on its own; tests/test_server.py drives the same stages with the trained tiny bot.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot import messages
from bot.channels.base import InboundMessage
from bot.dialogue.manager import DialogueManager
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.small_talk import small_talk
from bot.dialogue.stages.conversation import TrackConversation
from bot.dialogue.stages.rules import DialogueRules, IntentRules
from bot.dialogue.turn import Turn
from bot.handoff.notifier import HandoffNotifier, asks_for_human
from retrieval.bot_model import Analysis
from retrieval.intent_classifier import IntentPrediction
from supportbot.config.dialogue import DialogueConfig, FormSpec, MenuItem, SlotSpec


class MemoryStates:
    """The StateStore protocol over a dict; the SQLite store has its own tests."""

    def __init__(self) -> None:
        self.saved: dict[str, dict] = {}

    async def load_state(self, conversation_id: str) -> dict | None:
        return self.saved.get(conversation_id)

    async def save_state(self, conversation_id: str, state: dict) -> None:
        self.saved[conversation_id] = state


SCRIPT = {
    "I want to return my shoes": "return_item",
    "where is my parcel": "order_status",
    "talk_to_human please": "talk_to_human",
}


async def scripted_understand(turn: Turn, next_stage) -> None:
    intent = SCRIPT.get(turn.text)
    prediction = IntentPrediction(
        intent=intent or "out_of_scope",
        confidence=0.9 if intent else 0.1,
        out_of_scope=intent is None,
        ambiguous=False,
        ranking=[(intent or "order_status", 0.9 if intent else 0.1)],
    )
    turn.analysis = Analysis(prediction, [])
    await next_stage()


async def simple_policy(turn: Turn, next_stage) -> None:
    prediction = turn.analysis.prediction
    if prediction.out_of_scope:
        turn.action = "fallback"
        turn.dispatcher.utter(messages.FALLBACK)
    else:
        turn.action = "intent_response"
        turn.dispatcher.utter(f"answer for {prediction.intent}")
    await next_stage()


RETURN_FORM = FormSpec(
    intent="return_item",
    slots=[
        SlotSpec(name="order_number", question="What is your order number?", kind="pattern",
                 pattern=r"[A-Z]{2}\d{6}", invalid="Order numbers look like AB123456."),
        SlotSpec(name="email", question="Which email did you order with?", kind="email"),
        SlotSpec(name="reason", question="Why are you returning it?", kind="choice",
                 choices=["Too small", "Damaged"]),
    ],
    done="Return for {order_number} started; the label goes to {email}.",
)  # fmt: skip


def build(config: DialogueConfig | None = None, notifier: HandoffNotifier | None = None):
    config = config or DialogueConfig(forms=[RETURN_FORM])
    states = MemoryStates()
    memory = ConversationMemory(
        config, states, notifier or HandoffNotifier(None), lambda text: text.replace("@", "<AT>")
    )
    manager = DialogueManager(
        [
            TrackConversation(memory),
            DialogueRules(memory),
            scripted_understand,
            IntentRules(memory),
            simple_policy,
        ]
    )
    return manager, states, memory


async def say(manager: DialogueManager, text: str, sender: str = "c1") -> list[str]:
    replies = await manager.handle(InboundMessage(sender, text, "test"))
    return [reply.text for reply in replies]


async def test_form_asks_one_slot_at_a_time_validates_and_fills_the_template():
    manager, states, _ = build()
    assert await say(manager, "I want to return my shoes") == ["What is your order number?"]
    assert await say(manager, "it's 12345") == [
        "Order numbers look like AB123456. What is your order number?"
    ]
    assert await say(manager, "AB123456") == ["Which email did you order with?"]
    assert await say(manager, "sam@example.com") == ["Why are you returning it?"]
    replies = await manager.handle(InboundMessage("c1", "banana", "test"))
    assert [b.title for b in replies[0].buttons] == ["Too small", "Damaged"]
    assert await say(manager, "too small") == [
        "Return for AB123456 started; the label goes to sam@example.com."
    ]
    stored = states.saved["c1"]
    assert stored["active_form"] is None and stored["slots"] == {}


async def test_stored_state_holds_redacted_slots_and_history_only():
    manager, states, _ = build()
    await say(manager, "I want to return my shoes")
    await say(manager, "AB123456")
    await say(manager, "sam@example.com")
    stored = states.saved["c1"]
    assert stored["slots"]["email"] == "sam<AT>example.com"
    assert "sam@example.com" not in str(stored)
    assert stored["requested_slot"] == "reason"


async def test_cancel_leaves_the_form():
    manager, states, _ = build()
    await say(manager, "I want to return my shoes")
    assert await say(manager, "cancel") == [messages.FORM_CANCELLED]
    assert await say(manager, "where is my parcel") == ["answer for order_status"]


async def test_idle_conversation_forgets_its_form():
    manager, states, memory = build(DialogueConfig(forms=[RETURN_FORM], idle_timeout_minutes=1))
    await say(manager, "I want to return my shoes")
    states.saved["c1"]["updated_at"] -= 120
    memory._raw_slots.clear()
    assert await say(manager, "where is my parcel") == ["answer for order_status"]


async def test_asking_for_a_human_hands_off_and_the_bot_stays_silent_until_released():
    manager, states, memory = build()
    assert await say(manager, "can I talk to a real person?") == [messages.HANDOFF_CONFIRMED]
    assert states.saved["c1"]["status"] == "handed_off"
    assert await say(manager, "where is my parcel") == []
    state = await memory.load("c1", now=states.saved["c1"]["updated_at"])
    state.release()
    await memory.save(state, now=state.updated_at)
    assert await say(manager, "where is my parcel") == ["answer for order_status"]


async def test_handoff_intent_hands_off():
    manager, states, _ = build()
    assert await say(manager, "talk_to_human please") == [messages.HANDOFF_CONFIRMED]
    assert states.saved["c1"]["handoff_reason"] == "intent talk_to_human"


async def test_consecutive_fallbacks_end_in_a_handoff_and_an_answer_resets_the_count():
    manager, states, _ = build()
    assert await say(manager, "blorp") == [messages.FALLBACK]
    assert await say(manager, "where is my parcel") == ["answer for order_status"]
    assert await say(manager, "blorp") == [messages.FALLBACK]
    assert await say(manager, "zzzt") == [messages.HANDOFF_AFTER_FALLBACKS]
    assert states.saved["c1"]["status"] == "handed_off"
    assert states.saved["c1"]["handoff_reason"] == "2 fallbacks in a row"


async def test_small_talk_is_answered_without_the_model():
    manager, _, _ = build()
    assert await say(manager, "Hi there!") == [messages.GREETING]
    assert await say(manager, "thanks a lot") == [messages.YOU_ARE_WELCOME]
    assert await say(manager, "bye") == [messages.GOODBYE]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("hello", "greeting"), ("Thank you so much!", "thanks"), ("hi, my card is blocked", None)],
)
def test_small_talk_only_catches_whole_messages(text, kind):
    assert small_talk(text) == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("thanks, bye", "goodbye"),
        ("ok thank you, goodbye!", "goodbye"),
        ("cheers and bye", "goodbye"),
        ("that's all, thanks", "goodbye"),
        ("great thanks", "thanks"),
        ("I need help", "menu"),
        ("hi, I have a question", "menu"),
        ("Can you help me?", "menu"),
        ("help please", "menu"),
        ("I need help with my card", None),
        ("are you still there?", "still_there"),
        ("hello??", "still_there"),
        ("is anyone there", "still_there"),
        ("are you there for me on sundays", None),
    ],
)
def test_small_talk_covers_what_customers_say(text, kind):
    assert small_talk(text) == kind


async def test_a_vague_opener_gets_the_menu_and_is_not_a_miss():
    menu = [MenuItem(title="Where is my card?", payload="/card_arrival")]
    manager, states, _ = build(DialogueConfig(menu=menu))
    assert await say(manager, "blorp") == [messages.FALLBACK]
    replies = await manager.handle(InboundMessage("c1", "I need help", "test"))
    assert [r.text for r in replies] == [messages.MENU]
    assert [(b.title, b.payload) for b in replies[0].buttons] == [
        ("Where is my card?", "/card_arrival"),
        (messages.MENU_HUMAN_BUTTON, "/human_handoff"),
    ]
    assert states.saved["c1"]["fallbacks"] == 0
    assert await say(manager, "are you still there?") == [messages.STILL_HERE]
    assert await say(manager, "thanks, bye") == [messages.GOODBYE]
    assert states.saved["c1"]["status"] == "bot"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("talk to a human", True),
        ("Can I speak with an agent please", True),
        ("operator please", True),
        ("connect me to someone", True),
        ("the agent at the branch was rude", False),
        ("is a human reading this?", False),
        ("are you able to connect me to a human", True),
        ("i want a real person", True),
        ("am i talking to a real live person", False),
        ("could you tell me if you're a real person", False),
        ("are you computer or human", False),
        ("are you human? i want to talk to a person", True),
    ],
)
def test_asks_for_human(text, expected):
    assert asks_for_human(text) is expected


@pytest.mark.parametrize(
    "text",
    [
        "are you human",
        "is it true your a real person",
        "would most people say you are a computer or a human",
        "am i talking to a bot?",
    ],
)
async def test_asking_whether_the_bot_is_a_person_is_answered_not_handed_off(text):
    assert small_talk(text) == "bot_identity"
    manager, states, _ = build()
    assert await say(manager, text) == [messages.BOT_IDENTITY]
    assert states.saved["c1"]["status"] != "handed_off"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("are you real?", True),
        ("are you a real person", True),
        ("are you live agents", True),
        ("are you real estate agents?", False),
        ("are you live in london", False),
        ("are you human resources? i need my payslip", False),
    ],
)
def test_only_questions_about_the_bot_itself_count_as_asking_if_it_is_human(text, expected):
    assert (small_talk(text) == "bot_identity") is expected


async def test_handoff_is_delivered_to_the_webhook_with_a_redacted_transcript():
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/handoff", hook)
    async with TestServer(app, host="127.0.0.1") as server:
        notifier = HandoffNotifier(str(server.make_url("/handoff")), timeout_seconds=2)
        manager, _, _ = build(notifier=notifier)
        await say(manager, "where is my parcel")
        await say(manager, "my email is sam@example.com, talk to a human")
        await notifier.close()
    [delivery] = received
    assert delivery["conversation_id"] == "c1"
    assert delivery["reason"] == "customer asked"
    texts = [line["text"] for line in delivery["transcript"]]
    assert texts[0] == "where is my parcel"
    assert "sam<AT>example.com" in texts[-1] and "sam@example.com" not in str(delivery)


async def test_a_dead_webhook_does_not_hold_the_conversation():
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/handoff", slow)
    async with TestServer(app, host="127.0.0.1") as server:
        notifier = HandoffNotifier(str(server.make_url("/handoff")), timeout_seconds=0.3)
        manager, states, _ = build(notifier=notifier)
        replies = await asyncio.wait_for(say(manager, "talk to a human"), timeout=3)
        await notifier.close()
    assert replies == [messages.HANDOFF_CONFIRMED]
    assert states.saved["c1"]["status"] == "handed_off"


async def test_state_survives_in_sqlite_and_the_cli_side_release_is_seen(tmp_path):
    from bot.store.state_store import SQLiteStateStore, handed_off, open_state_db, set_handoff

    db_path = tmp_path / "log.db"
    states = SQLiteStateStore(db_path)
    memory = ConversationMemory(
        DialogueConfig(forms=[RETURN_FORM]), states, HandoffNotifier(None), lambda t: t
    )
    manager = DialogueManager(
        [TrackConversation(memory), DialogueRules(memory), scripted_understand,
         IntentRules(memory), simple_policy]
    )  # fmt: skip
    assert await say(manager, "talk to a human") == [messages.HANDOFF_CONFIRMED]
    other_process = open_state_db(db_path)
    assert [row["conversation_id"] for row in handed_off(other_process)] == ["c1"]
    assert await say(manager, "hello?") == []
    assert set_handoff(other_process, "c1", take=False)
    assert not set_handoff(other_process, "nobody", take=False)
    assert await say(manager, "where is my parcel") == ["answer for order_status"]
    await states.close()


async def test_states_loaded_together_each_get_their_own_in_order(tmp_path):
    from bot.store.state_store import SQLiteStateStore

    states = SQLiteStateStore(tmp_path / "log.db")
    try:
        await states.save_state("a", {"status": "bot", "updated_at": 1.0, "slots": {"x": 1}})
        await states.save_state("b", {"status": "bot", "updated_at": 2.0})
        asked = ["a", "missing", "b", "a"]
        loaded = await asyncio.gather(*(states.load_state(c) for c in asked))
        assert [state and state["updated_at"] for state in loaded] == [1.0, None, 2.0, 1.0]
        assert loaded[0]["slots"] == {"x": 1}
    finally:
        await states.close()


def test_reading_many_states_spans_several_queries(tmp_path):
    from bot.store.state_store import open_state_db, read_states, write_state

    db = open_state_db(tmp_path / "log.db")
    for number in range(0, 1200, 7):
        write_state(db, f"c{number}", {"status": "bot", "updated_at": float(number)})
    outcomes = read_states(db, [f"c{number}" for number in range(1200)])
    assert [number for number, (state, _) in enumerate(outcomes) if state] == list(
        range(0, 1200, 7)
    )
    assert all(error is None for _, error in outcomes)


def test_form_whose_done_template_names_an_unknown_slot_is_a_config_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"done: \{name.__class__\} is not one of"):
        FormSpec(
            intent="x",
            slots=[SlotSpec(name="name", question="Name?")],
            done="Hi {name.__class__}",
        )


def prediction_for(intent: str | None) -> Analysis:
    return Analysis(
        IntentPrediction(
            intent=intent or "out_of_scope",
            confidence=0.9 if intent else 0.1,
            out_of_scope=intent is None,
            ambiguous=False,
            ranking=[(intent or "order_status", 0.9 if intent else 0.1)],
        ),
        [],
    )


FOLLOW_UP_SCRIPT = {
    "my parcel has not arrived": "order_status",
    "how long will it take to get there?": "shipping_time",
    "my parcel has not arrived. it's been two weeks now and still nothing": "order_status",
    "I want to send a gift abroad. how long will it take to get there?": "international",
}


async def follow_up_analyse(text: str) -> Analysis:
    return prediction_for(FOLLOW_UP_SCRIPT.get(text))


def build_with_follow_ups():
    from bot.dialogue.stages.follow_ups import FollowUps

    memory = ConversationMemory(DialogueConfig(), MemoryStates(), HandoffNotifier(None), str)

    async def understand(turn: Turn, next_stage) -> None:
        turn.analysis = await follow_up_analyse(turn.text)
        await next_stage()

    stages = [
        TrackConversation(memory),
        DialogueRules(memory),
        understand,
        FollowUps(follow_up_analyse),
        IntentRules(memory),
        simple_policy,
    ]
    return DialogueManager(stages)


async def test_a_follow_up_is_read_with_the_previous_customer_turn():
    manager = build_with_follow_ups()
    assert await say(manager, "my parcel has not arrived") == ["answer for order_status"]
    # Alone it means nothing (out of scope); with the turn before it, it is about the parcel.
    assert await say(manager, "it's been two weeks now and still nothing") == [
        "answer for order_status"
    ]
    other = build_with_follow_ups()
    assert await say(other, "I want to send a gift abroad") == [messages.FALLBACK]
    # Alone it is confidently about shipping; pointing back ("it", "there"), the thread wins.
    assert await say(other, "how long will it take to get there?") == ["answer for international"]


async def test_a_first_message_and_a_self_contained_one_are_read_alone():
    manager = build_with_follow_ups()
    assert await say(manager, "how long will it take to get there?") == ["answer for shipping_time"]
