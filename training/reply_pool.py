"""The ranker's candidate pool: the bot's response templates plus historical agent replies
that are safe to send to anyone, near-duplicates merged.

The reuse rule for a historical reply (`reusable`), because it will be sent verbatim to
other customers:
- no digits, e-mail addresses, URLs, @handles or currency signs (amounts, dates, times,
  phone and order numbers, addresses);
- no capitalised word inside a sentence other than "I" (names of people, places,
  restaurants, products);
- said in at least `min_dialogues` different dialogues (default 2), so a one-off reply
  that carries a customer's detail in lower case is not reused.
Replies that need such values belong in templates with `{slots}`, filled from the
conversation's state at run time.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from retrieval.ranker import Candidate
from retrieval.ranker_text import embedding_text, reply_key
from training.schema import Dialogue

_VALUES = re.compile(r"\d|@|https?://|www\.|[$€£¥]")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|[:;]\s+|\n)[\"'(]*$")
_WORD = re.compile(r"[A-Za-z][\w'’-]*")
_PRONOUN_I = re.compile(r"^I(?:['’](?:m|ll|ve|d))?$")


@dataclass(frozen=True)
class PoolSettings:
    min_dialogues: int = 2
    merge_similarity: float = 0.95
    """Cosine (ranker encoder) at or above which two replies are one answer."""
    max_history: int = 20_000
    """Most frequent reusable replies kept; the rest are too rare to be worth choosing."""


def has_customer_values(text: str) -> bool:
    """True when a reply carries details that belong to one conversation (see module doc)."""
    if _VALUES.search(text):
        return True
    for match in _WORD.finditer(text):
        word = match.group()
        if word[0].isupper() and not _PRONOUN_I.match(word):
            if not _SENTENCE_START.search(text[: match.start()]):
                return True
    return False


def reusable_replies(dialogues: Iterable[Dialogue], settings: PoolSettings) -> list[Candidate]:
    """Historical agent replies passing the reuse rule, most frequent first; replies that
    differ only in case and punctuation are counted as one, shown in their commonest form."""
    seen: dict[str, set[str]] = {}
    spellings: dict[str, Counter[str]] = {}
    for dialogue in dialogues:
        for turn in dialogue.turns:
            if turn.speaker != "agent" or has_customer_values(turn.text):
                continue
            key = reply_key(turn.text)
            if key:
                seen.setdefault(key, set()).add(dialogue.id)
                spellings.setdefault(key, Counter())[turn.text] += 1
    kept = [
        Candidate(spellings[key].most_common(1)[0][0], "history", count=len(ids))
        for key, ids in seen.items()
        if len(ids) >= settings.min_dialogues
    ]
    kept.sort(key=lambda c: (-c.count, c.text))
    return kept[: settings.max_history]


def template_candidates(responses: dict[str, list[dict]]) -> list[Candidate]:
    """Every response variant of every intent, as written (slots included)."""
    return [
        Candidate(variant["text"], "template", intent, index, count=0)
        for intent, variants in sorted(responses.items())
        for index, variant in enumerate(variants)
    ]


def build_pool(
    templates: list[Candidate],
    history: list[Candidate],
    encode_replies: Callable[[list[str]], np.ndarray],
    settings: PoolSettings,
) -> tuple[list[Candidate], np.ndarray]:
    """Templates (all kept) then history replies, each history reply merged into an
    earlier candidate it duplicates (same words, or cosine >= merge_similarity)."""
    template_keys = {reply_key(t.text) for t in templates}
    history = [h for h in history if reply_key(h.text) not in template_keys]
    candidates = templates + history
    vectors = encode_replies([embedding_text(c.text) for c in candidates])
    keep = merge_near_duplicates(vectors, len(templates), settings.merge_similarity)
    counts = Counter()
    for row, target in enumerate(keep):
        counts[target] += candidates[row].count
    rows = sorted(set(keep))
    merged = [_with_count(candidates[r], counts[r]) for r in rows]
    return merged, vectors[rows]


def _with_count(candidate: Candidate, count: int) -> Candidate:
    return Candidate(candidate.text, candidate.kind, candidate.intent, candidate.variant, count)


def merge_near_duplicates(vectors: np.ndarray, protected: int, threshold: float) -> list[int]:
    """For each row, the row it is merged into (itself when kept). Rows before `protected`
    are always kept; a later row joins its most similar kept earlier row whose cosine is at
    or above `threshold`. Computed blockwise, so memory stays O(rows x block)."""
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    target = list(range(len(vectors)))
    kept = np.zeros(len(vectors), dtype=bool)
    kept[:protected] = True
    block = 1024
    for start in range(protected, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        for offset, row_sims in enumerate(sims):
            row = start + offset
            earlier = np.flatnonzero(kept[:row])
            best = earlier[np.argmax(row_sims[earlier])] if earlier.size else -1
            if best >= 0 and row_sims[best] >= threshold:
                target[row] = int(best)
            else:
                kept[row] = True
    return target
