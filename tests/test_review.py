"""`supportbot review` and intent discovery on a real SQLite log written through the store:
what gets picked, what never does, and how picks spread over topics."""

from __future__ import annotations

import pytest

from bot.store.conversation_log import SQLiteConversationStore, TurnRecord, open_database
from bot.store.learning_log import LearningLog
from bot.store.review_labels import Label, save_labels
from supportbot.cli import main
from training.intent_discovery import discover_intents
from training.review import pick_for_review

SAME_QUESTION = [f"can I pay for order {n} in bitcoin from my wallet" for n in range(20)]
TOPICS = [
    "my parcel arrived completely crushed",
    "do you have a store in Lisbon",
    "the app crashes when I log in",
    "can I change the delivery address after ordering",
    "is the black jacket available in size XL",
    "your website shows the wrong price for socks",
]


async def log(
    store: SQLiteConversationStore,
    text: str,
    conversation: str,
    *,
    intent: str | None = "order_status",
    confidence: float = 0.95,
    action: str = "intent_response",
    opt_out: bool = False,
) -> int:
    return await store.log_turn(
        TurnRecord(
            conversation_id=conversation,
            channel="rest",
            message=text,
            intent=intent,
            confidence=confidence,
            out_of_scope=action == "fallback",
            action=action,
            responses=[{"text": "a reply"}],
            retrieval_hits=[],
            moderation={},
            latency_ms=1.0,
            model_version="m-1",
            opt_out=opt_out,
        )
    )


@pytest.fixture
async def log_db(tmp_path):
    """A log with confident answers, a clarification, fallbacks, a thumbs-down, a handoff,
    an opted-out conversation and twenty variants of one unanswered question."""
    store = await SQLiteConversationStore.open(tmp_path / "log.db")
    ids = {}
    for n, text in enumerate(["where is my order?", "hi", "thanks a lot", "bye"]):
        ids[text] = await log(store, text, f"happy-{n}")
    ids["clarify"] = await log(
        store, "order payment", "c-1", intent="payment_methods", confidence=0.41, action="clarify"
    )
    ids["down"] = await log(store, "how long does shipping take", "c-2", intent="shipping_time")
    await store.record_feedback("c-2", ids["down"], -1)
    ids["before_handoff"] = await log(store, "this is not what I asked", "c-3", confidence=0.6)
    await log(store, "I want to talk to a human", "c-3", intent="talk_to_human", action="handoff")
    ids["opted_out"] = await log(
        store, "my password is hunter2 and it fails", "c-4", confidence=0.1, opt_out=True
    )
    ids["button"] = await log(store, "/order_status", "c-5", confidence=1.0)
    for n, text in enumerate(SAME_QUESTION):
        await log(store, text, f"dup-{n}", intent=None, confidence=0.2, action="fallback")
    for n, text in enumerate(TOPICS):
        ids[text] = await log(
            store, text, f"topic-{n}", intent=None, confidence=0.3, action="fallback"
        )
    await store.close()
    db = open_database(tmp_path / "log.db")
    yield db, ids
    db.close()


async def test_review_picks_uncertain_turns_and_never_opted_out_ones(log_db, tiny_model):
    db, ids = log_db
    picks = pick_for_review(LearningLog(db), tiny_model, size=40)
    by_turn = {p.turn_id: p for p in picks}
    assert "negative_feedback" in by_turn[ids["down"]].reasons
    assert "clarify" in by_turn[ids["clarify"]].reasons
    assert "handoff" in by_turn[ids["before_handoff"]].reasons
    assert set(by_turn[ids[TOPICS[0]]].reasons) >= {"fallback", "low_confidence"}
    assert ids["opted_out"] not in by_turn and ids["button"] not in by_turn
    assert all(p.message == db["turns"].get(p.turn_id)["message"] for p in picks)
    scores = {p.turn_id: p.score for p in picks}
    assert scores[ids["down"]] > scores[ids["where is my order?"]]

    save_labels(db, [Label(ids["down"], "shipping_time")])
    again = {p.turn_id for p in pick_for_review(LearningLog(db), tiny_model, size=40)}
    assert ids["down"] not in again, "a labelled turn was picked again"


async def test_review_spreads_picks_over_topics(log_db, tiny_model):
    db, ids = log_db
    picks = pick_for_review(LearningLog(db), tiny_model, size=6, seed=3)
    assert len(picks) == 6
    same = [p for p in picks if p.message in SAME_QUESTION]
    assert len(same) <= 2, [p.message for p in picks]
    assert len({p.cluster for p in picks}) >= 5


async def test_review_command_queues_picks_and_exports_them(
    log_db, tiny_model_dir, tmp_path, capsys
):
    db, ids = log_db
    out = tmp_path / "picks.jsonl"
    args = ["review", "--db", str(tmp_path / "log.db"), "--model", str(tiny_model_dir)]
    assert main([*args, "--size", "5", "--out", str(out)]) == 0
    assert capsys.readouterr().out.endswith(
        "5 queued pick(s) written to " + str(out) + "\n5 turn(s) queued for review\n"
    )
    assert len(out.read_text().splitlines()) == 5
    assert db.execute("SELECT count(*) FROM review_queue").fetchone()[0] == 5
    assert main([*args, "--size", "5"]) == 0
    queued = db.execute("SELECT count(DISTINCT turn_id) FROM review_queue").fetchone()[0]
    assert queued == 10, "a second review queued the same turns again"


async def test_discovery_proposes_the_unanswered_question_as_a_new_intent(log_db, tiny_model):
    db, _ = log_db
    [candidate] = discover_intents(LearningLog(db), tiny_model, min_size=5)
    assert candidate.size == len(SAME_QUESTION)
    assert set(candidate.examples) <= set(SAME_QUESTION) and len(candidate.examples) == 5
    assert "bitcoin" in candidate.name.split("_")
