"""Training the response ranker: pairs, batches, the reuse rule, near-duplicate merging,
the 1-of-N protocol and the open-pool threshold. Pure functions: no model is loaded."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.ranker import Candidate
from retrieval.ranker_text import (
    fill_template,
    format_context,
    last_turns,
    split_context,
    template_slots,
)
from training.dialogue_pairs import dialogue_batches, extract_pairs, split_by_dialogue
from training.ranker_eval import selection_score, selection_task, true_reply_ranks
from training.ranker_finetune import FinetuneSettings, affordable_steps, plan_batches
from training.ranker_trainer import (
    NEVER,
    RankerSettings,
    choose_min_score,
    ranker_settings,
    transformer_pairs,
)
from training.reply_pool import (
    PoolSettings,
    build_pool,
    has_customer_values,
    merge_near_duplicates,
    reusable_replies,
    template_candidates,
)
from training.schema import Dialogue, Source, Turn


def dialogue(id_: str, *texts: str, outcome: str | None = None) -> Dialogue:
    """Turns alternate customer, agent, customer, ..."""
    turns = tuple(Turn("customer" if i % 2 == 0 else "agent", t) for i, t in enumerate(texts))
    return Dialogue(id_, turns, Source("dialogues.jsonl", 1), outcome)


def test_every_agent_turn_is_a_target_with_the_last_three_turns_tagged():
    pairs = extract_pairs([dialogue("d1", "hi", "Hello!", "where is my order", "Let me check.")])
    assert [(p.context, p.reply) for p in pairs] == [
        ("[customer] hi", "Hello!"),
        ("[customer] hi [agent] Hello! [customer] where is my order", "Let me check."),
    ]
    assert {p.dialogue for p in pairs} == {"d1"}


def test_the_context_window_keeps_only_the_latest_turns():
    texts = ["c1", "a1", "c2", "a2", "c3", "a3"]
    last = extract_pairs([dialogue("d", *texts)], window=2)[-1]
    assert last.context == "[agent] a2 [customer] c3"
    assert format_context(["first", "reply", "latest"]) == (
        "[customer] first [agent] reply [customer] latest"
    )


def test_a_long_context_cut_to_fewer_turns_is_the_shorter_window_exactly():
    texts = ["c1", "a1", "c2  with   spaces", "a2", "c3", "a3"]
    long, short = (extract_pairs([dialogue("d", *texts)], window=w)[-1] for w in (5, 3))
    assert last_turns(long.context, 3) == short.context
    assert short.context == "[customer] c2 with spaces [agent] a2 [customer] c3"
    assert split_context(long.context)[0] == ("customer", "c1")
    assert [p.context for p in transformer_pairs([long], RankerSettings())] == [short.context]


def test_config_sets_the_n_gram_members_windows():
    settings = ranker_settings(7, minutes=5, ngram_turns=[2, 4])
    assert settings.ngrams.member_turns == (2, 4) and settings.ngrams.seed == 7
    assert ranker_settings(7).ngrams.member_turns == (3, 3, 6, 6)


def test_an_agent_turn_without_context_and_abandoned_dialogues_give_no_pairs():
    opening = Dialogue("d", (Turn("agent", "Welcome!"),), Source("x", 1))
    abandoned = dialogue("a", "hi", "Hello!", outcome="abandoned")
    assert extract_pairs([opening, abandoned]) == []


def test_batches_keep_a_dialogues_turns_together_and_validation_splits_by_dialogue():
    dialogues = [dialogue(f"d{i}", "q", f"a{i}", "q2", f"b{i}") for i in range(10)]
    pairs = extract_pairs(dialogues)
    for batch in dialogue_batches(pairs, 4, seed=1):
        assert len(batch) == 4 and len({p.dialogue for p in batch}) == 2
    train, held = split_by_dialogue(pairs, 0.3, seed=1)
    assert len(held) == 6 and not {p.dialogue for p in train} & {p.dialogue for p in held}


def test_the_time_budget_shortens_the_plan_and_a_later_faster_rate_gives_steps_back():
    assert affordable_steps(750, 5, 13.5, 1200) == 444, "2.7 s per step at first"
    assert affordable_steps(750, 50, 105.0, 1200) == 571, "2.1 s per step once warm"
    assert affordable_steps(750, 50, 50.0, 1200) == 750, "never beyond the plan"
    assert affordable_steps(750, 20, 1300.0, 1200) == 20, "never before the current step"


def test_small_data_is_repeated_to_the_minimum_steps_and_big_data_capped():
    pairs = extract_pairs([dialogue(f"d{i}", "q", f"a{i}") for i in range(100)])
    assert len(plan_batches(pairs[:10], FinetuneSettings(batch_size=8, min_steps=5))) == 5
    capped = plan_batches(pairs, FinetuneSettings(batch_size=8, max_pairs=40, min_steps=1))
    assert len(capped) == 5 and len({p.dialogue for b in capped for p in b}) == 40


@pytest.mark.parametrize(
    "reply",
    [
        "Your table for 2 is booked.",
        "I found Bird Dog in Palo Alto.",
        "Sure, I'll send it to ana@example.com",
        "The total is $40.",
        "See www.example.com for details",
        "Okay, the flight with Delta leaves soon.",
    ],
)
def test_replies_with_customer_values_are_not_reusable(reply):
    assert has_customer_values(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "Is there anything else I can help you with?",
        "I've booked it. Enjoy!",
        "Sure. What time would you like?",
        "Okay: Which city?",
    ],
)
def test_generic_replies_are_reusable(reply):
    assert not has_customer_values(reply)


def test_a_reply_must_be_seen_in_two_dialogues_and_its_spellings_count_once():
    dialogues = [
        dialogue("d1", "q", "Anything else?", "q", "see you in paris"),
        dialogue("d2", "q", "anything else", "q", "Have a nice day."),
        dialogue("d3", "q", "Anything else?", "q", "I booked Bird Dog."),
    ]
    kept = reusable_replies(dialogues, PoolSettings(min_dialogues=2))
    assert [(c.text, c.count, c.kind) for c in kept] == [("Anything else?", 3, "history")]


def test_near_duplicates_merge_into_the_earlier_candidate_and_templates_stay():
    vectors = np.array([[1, 0], [1, 0], [0.99, 0.141], [0, 1]], dtype=np.float32)
    assert merge_near_duplicates(vectors, protected=2, threshold=0.95) == [0, 1, 0, 3]


def test_the_pool_merges_history_into_templates_and_keeps_template_variants():
    responses = {"bye": [{"text": "Bye {name}!", "buttons": []}, {"text": "See you!"}]}
    history = [
        Candidate("see you", "history", count=4),
        Candidate("Have a nice day.", "history", count=3),
        Candidate("Have a nice day!!", "history", count=2),
    ]
    table = {"Bye name!": [1, 0, 0], "See you!": [0, 1, 0], "see you": [0, 1, 0]}
    table |= {"Have a nice day.": [0, 0, 1], "Have a nice day!!": [0, 0.1, 0.995]}

    def encode(texts):
        rows = np.array([table[t] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    candidates, vectors = build_pool(
        template_candidates(responses), history, encode, PoolSettings(merge_similarity=0.95)
    )
    assert [(c.text, c.kind, c.intent, c.variant, c.count) for c in candidates] == [
        ("Bye {name}!", "template", "bye", 0, 0),
        ("See you!", "template", "bye", 1, 0),
        ("Have a nice day.", "history", None, None, 5),
    ]
    assert vectors.shape == (3, 3)


def test_templates_are_filled_from_state_or_not_at_all():
    assert template_slots("Hi {name}, your {order_id} shipped") == ["name", "order_id"]
    assert fill_template("Hi {name}!", {"name": "Ana"}) == "Hi Ana!"
    assert fill_template("Hi {name}!", {"name": " "}) is None
    assert fill_template("Hi {name}!", {}) is None
    assert fill_template("Hello!", {}) == "Hello!"


def test_one_of_n_draws_other_replies_and_ranks_the_true_one():
    pairs = extract_pairs([dialogue(f"d{i}", "q", f"reply {i % 7}") for i in range(40)])
    task = selection_task(pairs, size=5, seed=3)
    for pair, rows in zip(pairs, task.candidates, strict=True):
        assert task.replies[rows[0]] == pair.reply
        assert all(task.replies[r] != pair.reply for r in rows[1:])
    identity = np.eye(len(task.replies), dtype=np.float32)
    contexts = identity[[task.replies.index(p.reply) for p in pairs]]
    score = selection_score(true_reply_ranks(task, contexts, identity))
    assert (score.recall_at_1, score.mrr, score.count) == (1.0, 1.0, 40)
    flat = selection_score(true_reply_ranks(task, contexts * 0, identity))
    assert flat.recall_at_1 == 0.0 and flat.mrr == pytest.approx(0.2)


def test_the_open_pool_threshold_meets_the_precision_target():
    scores = np.linspace(1.0, 0.0, 100)
    correct = np.arange(100) < 50
    threshold, answered = choose_min_score(scores, correct, precision=0.9)
    assert answered == pytest.approx(0.55) and threshold == pytest.approx(scores[54])
    assert choose_min_score(scores, ~correct, precision=0.9) == (NEVER, 0.0)
