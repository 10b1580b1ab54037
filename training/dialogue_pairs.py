"""(context -> reply) pairs from historical dialogues, what the response ranker learns from.

Every agent turn is a target; the turns before it are its context. Only the last few
turns are kept (`window`), speaker-tagged by `retrieval.ranker_text.format_context`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from retrieval.ranker_text import DEFAULT_CONTEXT_TURNS, ContextTurn, format_context
from training.schema import Dialogue

SKIPPED_OUTCOMES = frozenset({"abandoned"})
"""An abandoned conversation's replies are not ones a good agent would give again."""


@dataclass(frozen=True)
class ReplyPair:
    context: str
    """Speaker-tagged text of the turns before the reply (the last `window` of them)."""
    reply: str
    dialogue: str
    """Id of the dialogue it came from: batches use it to find hard negatives."""


def extract_pairs(
    dialogues: Iterable[Dialogue], window: int = DEFAULT_CONTEXT_TURNS
) -> list[ReplyPair]:
    """One pair per agent turn that has at least one turn before it, in dialogue order."""
    pairs = []
    for dialogue in dialogues:
        if dialogue.outcome in SKIPPED_OUTCOMES:
            continue
        history = [ContextTurn(t.speaker, t.text) for t in dialogue.turns]
        for position, turn in enumerate(dialogue.turns):
            if turn.speaker != "agent" or position == 0:
                continue
            context = format_context(history[:position], window)
            pairs.append(ReplyPair(context, turn.text, dialogue.id))
    return pairs


def split_by_dialogue(
    pairs: list[ReplyPair], fraction: float, seed: int
) -> tuple[list[ReplyPair], list[ReplyPair]]:
    """(train, validation) with whole dialogues on one side, so validation contexts never
    share a conversation with training ones."""
    ids = sorted({p.dialogue for p in pairs})
    random.Random(seed).shuffle(ids)
    held = set(ids[: round(len(ids) * fraction)])
    return [p for p in pairs if p.dialogue not in held], [p for p in pairs if p.dialogue in held]


def dialogue_batches(pairs: list[ReplyPair], batch_size: int, seed: int) -> list[list[ReplyPair]]:
    """Batches of consecutive pairs from shuffled dialogues.

    Keeping a dialogue's pairs together makes its other agent replies in-batch negatives:
    same service, same customer, different moment, the hardest kind there is, at no extra
    encoding cost. The rest of the batch comes from a handful of other dialogues.
    """
    by_dialogue: dict[str, list[ReplyPair]] = {}
    for pair in pairs:
        by_dialogue.setdefault(pair.dialogue, []).append(pair)
    order = sorted(by_dialogue)
    random.Random(seed).shuffle(order)
    flat = [pair for key in order for pair in by_dialogue[key]]
    return [flat[i : i + batch_size] for i in range(0, len(flat), batch_size)]


def random_batches(pairs: list[ReplyPair], batch_size: int, seed: int) -> list[list[ReplyPair]]:
    """Batches of pairs in random order: in-batch negatives drawn like a 1-of-N test's."""
    order = list(pairs)
    random.Random(seed).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
