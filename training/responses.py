"""Responses per intent: written ones from the bot definition, else mined from dialogues."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from training.button_targets import target_json
from training.schema import Button, Dialogue, Response, TrainingData


def mine_responses(dialogues: list[Dialogue], max_variants: int = 3) -> dict[str, list[Response]]:
    """The agents' most frequent replies right after a customer turn with exactly one intent."""
    counts: dict[str, Counter[str]] = {}
    for dialogue in dialogues:
        if dialogue.outcome in {"escalated", "abandoned"}:
            continue
        for turn, reply in pairwise(dialogue.turns):
            if turn.speaker == "customer" and reply.speaker == "agent" and len(turn.intents) == 1:
                counts.setdefault(turn.intents[0], Counter())[reply.text] += 1
    return {
        intent: [Response(text) for text, _ in counter.most_common(max_variants)]
        for intent, counter in counts.items()
    }


def collect_responses(
    data: TrainingData, intents: list[str]
) -> tuple[dict[str, list[dict]], list[str]]:
    """JSON-ready responses for `intents`, and the intents that were mined rather than written."""
    mined = mine_responses(data.dialogues)
    chosen: dict[str, list[dict]] = {}
    mined_for = []
    for intent in intents:
        variants = data.responses.get(intent) or mined.get(intent)
        if not variants:
            continue
        if not data.responses.get(intent):
            mined_for.append(intent)
        chosen[intent] = [
            {
                "text": r.text,
                "buttons": [_button_json(b, data) for b in r.buttons],
            }
            for r in variants
        ]
    return chosen, mined_for


def _button_json(button: Button, data: TrainingData) -> dict:
    """{title, payload}, and what the click does when the bot definition says so."""
    written: dict = {"title": button.title, "payload": button.payload}
    target = target_json(button, data)
    if target is not None:
        written["target"] = target
    return written
