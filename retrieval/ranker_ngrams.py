"""The ranker's second encoder: a bag-of-n-grams dual encoder, served in NumPy.

Why a second encoder: on 2 CPU cores the transformer can only be fine-tuned on a
subsample of a large dialogue log within the training budget, while this model learns
from every pair in minutes; the two are right about different replies, so their summed
cosines beat either (figures in docs/benchmarks.md). Context features are word 1-2 grams
tagged with the turn's distance from the end (trigrams too for the latest turn); reply
features are word 1-3 grams. Each side averages its features' embeddings and passes the
mean through a small tanh MLP, then L2-normalises.

Several such models ("members", trained alike from different seeds over one vocabulary)
make one encoder whose score is the mean of their cosines: each member overfits its own
way, and on SGD two members beat one by more than a bigger single model did (figures in
docs/benchmarks.md). A context vector is the members' vectors side by side; a reply
vector the same, divided by the number of members, so the mean is still one dot product.
Files written before members existed hold one member under unprefixed names.

Members may read different context windows (`member_turns` in the vocabulary file): on
SGD a member that reads the last six turns sees values named earlier in the conversation
(the restaurant being booked, the pick-up station), and half the members reading six
turns beat all reading three (figures in docs/benchmarks.md). Files without
`member_turns` read every turn of the context they are given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from retrieval.ranker_text import split_context
from supportbot.errors import ModelError

_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")
SIDES = ("context", "reply")
TENSORS = tuple(f"{side}_{name}" for side in SIDES for name in ("table", "w1", "b1", "w2", "b2"))


def member_prefix(member: int) -> str:
    """Prefix of a member's tensor names in the weights file."""
    return f"member{member}."


def _grams(words: list[str], longest: int) -> list[str]:
    grams = list(words)
    for n in range(2, longest + 1):
        grams += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return grams


def context_features(context: str, turns: int | None = None) -> list[str]:
    """Features of a formatted context (`[customer] ... [agent] ...`), of its last `turns`
    turns when given."""
    recent = list(reversed(split_context(context)))[:turns]
    features = []
    for distance, (_speaker, text) in enumerate(recent):
        words = _TOKEN.findall(text.lower())
        features += [f"{distance}|{g}" for g in _grams(words, 3 if distance == 0 else 2)]
    return features


def reply_features(reply: str) -> list[str]:
    return _grams(_TOKEN.findall(reply.lower()), 3)


class NgramEncoder:
    """Feature vocabularies (row 0 is "no known feature") and each member's weights."""

    def __init__(self, vocab: dict[str, list], tensors: dict[str, np.ndarray]):
        self.rows = {side: {f: i + 1 for i, f in enumerate(vocab[side])} for side in SIDES}
        self.members = _members(tensors)
        """Embedding tables stay float16 (half the memory); rows are widened when gathered."""
        self.member_turns = _member_turns(vocab, len(self.members))
        self.dimension = sum(int(m["context_w2"].shape[0]) for m in self.members)

    @classmethod
    def load(cls, weights: Path, vocab: Path) -> NgramEncoder:
        try:
            names = json.loads(vocab.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{vocab}: unreadable ({exc})") from exc
        return cls(names, load_file(str(weights)))

    def encode_contexts(self, texts: list[str]) -> np.ndarray:
        known = {
            turns: self._known("context", [context_features(t, turns) for t in texts])
            for turns in set(self.member_turns)
        }
        return np.hstack(
            [
                _member_vectors(member, "context", known[turns])
                for member, turns in zip(self.members, self.member_turns, strict=True)
            ]
        )

    def encode_replies(self, texts: list[str]) -> np.ndarray:
        known = self._known("reply", [reply_features(t) for t in texts])
        vectors = np.hstack([_member_vectors(m, "reply", known) for m in self.members])
        return vectors / len(self.members)

    def _known(self, side: str, features: list[list[str]]) -> list[list[int]]:
        rows = self.rows[side]
        return [[rows[f] for f in names if f in rows] or [0] for names in features]


def _members(tensors: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Each member's tensors under their plain names (one member for unprefixed files)."""
    if all(name in tensors for name in TENSORS):
        return [{name: tensors[name] for name in TENSORS}]
    members: list[dict[str, np.ndarray]] = []
    while any(key.startswith(member_prefix(len(members))) for key in tensors):
        prefix = member_prefix(len(members))
        missing = [name for name in TENSORS if prefix + name not in tensors]
        if missing:
            raise ModelError(f"ranker n-gram weights: member {len(members)} lacks {missing}")
        members.append({name: tensors[prefix + name] for name in TENSORS})
    if not members:
        raise ModelError(f"ranker n-gram weights: missing tensors {list(TENSORS)}")
    return members


def _member_turns(vocab: dict[str, list], members: int) -> list[int | None]:
    """Each member's context window; None (every turn given) for files without one."""
    turns = vocab.get("member_turns")
    if turns is None:
        return [None] * members
    if len(turns) != members or not all(isinstance(t, int) and t > 0 for t in turns):
        raise ModelError(
            f"ranker n-gram vocabulary: member_turns {turns!r} does not give a positive "
            f"window for each of the {members} member(s)"
        )
    return list(turns)


def _member_vectors(tensors: dict[str, np.ndarray], side: str, known: list[list[int]]):
    table = tensors[f"{side}_table"]
    pooled = np.zeros((len(known), table.shape[1]), dtype=np.float32)
    for i, ids in enumerate(known):
        pooled[i] = table[ids].astype(np.float32).mean(axis=0)
    hidden = np.tanh(pooled @ tensors[f"{side}_w1"].T + tensors[f"{side}_b1"])
    out = hidden @ tensors[f"{side}_w2"].T + tensors[f"{side}_b2"]
    norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return (out / norms).astype(np.float32)
