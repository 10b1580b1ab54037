"""The response ranker: scores candidate replies for a dialogue context.

A bi-encoder fine-tuned on (context -> agent reply) pairs from historical dialogues,
plus, when validation data says it helps, a bag-of-n-grams dual encoder trained on every
pair (retrieval/ranker_ngrams.py); a reply's score is the transformer's cosine plus
`ngram_weight` times the n-gram cosine. The candidate pool (the bot's response templates
plus reusable agent replies, near-duplicates merged) is embedded at training time, so
choosing a reply encodes only the context and takes one matrix-vector product.

Public API::

    from retrieval.ranker import load_ranker

    ranker = load_ranker("models/my-bot")
    scores = ranker.score(["hi, where is my parcel?"], ["Hello!", "Let me check."])
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from retrieval.model_dir import RankerInfo, read_manifest
from retrieval.ranker_encoder import RankerEncoder
from retrieval.ranker_ngrams import NgramEncoder
from retrieval.ranker_rerank import Reranker, words
from retrieval.ranker_text import format_context, last_turns
from supportbot.errors import ModelError

RANKER_DIR = "ranker"
ENCODER_DIR = f"{RANKER_DIR}/encoder"
ONNX_DIR = f"{RANKER_DIR}/encoder-onnx"
CANDIDATES_FILE = f"{RANKER_DIR}/candidates.json"
EMBEDDINGS_FILE = f"{RANKER_DIR}/candidates.safetensors"
NGRAMS_FILE = f"{RANKER_DIR}/ngrams.safetensors"
NGRAM_VOCAB_FILE = f"{RANKER_DIR}/ngram_vocab.json"
RERANKER_FILE = f"{RANKER_DIR}/reranker.json"


class RankerVectors:
    """Context and reply vectors whose inner product is the ranker's score: the
    transformer's vector, then the n-gram encoder's (scaled by its weight on the reply
    side), so cos_transformer + weight * cos_ngrams is one dot product. With
    `transformer_turns`, the transformer reads only that many of a context's last turns
    (the n-gram encoder may read more)."""

    def __init__(
        self,
        transformer: RankerEncoder,
        ngrams: NgramEncoder | None = None,
        weight: float = 0.0,
        transformer_turns: int | None = None,
    ):
        self.transformer = transformer
        self.ngrams = ngrams if weight > 0 else None
        self.weight = weight if self.ngrams is not None else 0.0
        self.transformer_turns = transformer_turns

    def encode_contexts(self, texts: list[str]) -> np.ndarray:
        recent = texts
        if self.transformer_turns is not None:
            recent = [last_turns(text, self.transformer_turns) for text in texts]
        vectors = self.transformer.encode_contexts(recent)
        if self.ngrams is None:
            return vectors
        return np.hstack([vectors, self.ngrams.encode_contexts(texts)])

    def encode_replies(self, texts: list[str]) -> np.ndarray:
        vectors = self.transformer.encode_replies(texts)
        if self.ngrams is None:
            return vectors
        return np.hstack([vectors, self.weight * self.ngrams.encode_replies(texts)])


@dataclass(frozen=True)
class EncodedContext:
    """A dialogue context as the ranker reads it: its formatted text (for the re-ranker)
    and its vector (for the encoders' scores)."""

    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class Candidate:
    """One reply the bot may choose. A "template" is variant `variant` of `intent`'s
    responses (filled from state when it has slots); a "history" reply is an agent reply
    that passed the reuse rule and is sent as it is."""

    text: str
    kind: str
    intent: str | None = None
    variant: int | None = None
    count: int = 1
    """Dialogues the reply (or a near-duplicate merged into it) was seen in."""

    def to_json(self) -> dict:
        return asdict(self)


class ResponseRanker:
    """Scores replies for a context. Thread-safe for scoring; loading blocks."""

    def __init__(
        self,
        encoder: RankerVectors,
        candidates: list[Candidate],
        embeddings: np.ndarray,
        info: RankerInfo,
        reranker: Reranker | None = None,
    ):
        if len(candidates) != len(embeddings):
            raise ModelError("ranker: candidate texts and embeddings do not match")
        self.encoder = encoder
        self.candidates = candidates
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self.info = info
        self.reranker = reranker
        self._words = [words(c.text) for c in candidates] if reranker else []
        self._by_text = {c.text: i for i, c in enumerate(candidates)}
        self._by_intent: dict[str, list[int]] = {}
        for i, candidate in enumerate(candidates):
            if candidate.kind == "template" and candidate.intent is not None:
                self._by_intent.setdefault(candidate.intent, []).append(i)

    @classmethod
    def load(
        cls,
        model_dir: Path,
        info: RankerInfo,
        backend: str | None = None,
        threads: int | None = None,
    ) -> ResponseRanker:
        """The ranker described by `info` (the manifest's ranker section); files are assumed
        checked against the manifest already (read_manifest does). `threads`: ONNX Runtime
        intra-op threads per encoding (default every core; the server passes 1)."""
        model_dir = Path(model_dir)
        backend = backend or os.environ.get("SUPPORTBOT_BACKEND", "onnx")
        folder = info.onnx if backend == "onnx" and info.onnx else info.encoder
        backend = "onnx" if folder == info.onnx else "torch"
        transformer = RankerEncoder(
            model_dir / folder, backend, info.max_context_tokens, info.max_reply_tokens, threads
        )
        ngrams = None
        if info.ngrams and info.ngram_vocab:
            ngrams = NgramEncoder.load(model_dir / info.ngrams, model_dir / info.ngram_vocab)
        encoder = RankerVectors(transformer, ngrams, info.ngram_weight, info.transformer_turns)
        candidates = [Candidate(**row) for row in _read_json(model_dir / info.candidates)]
        tensors = load_file(str(model_dir / info.embeddings))
        if "embeddings" not in tensors:
            raise ModelError(f"{model_dir / info.embeddings}: missing tensor 'embeddings'")
        reranker = None
        if info.reranker:
            reranker = _read_reranker(model_dir / info.reranker)
        return cls(encoder, candidates, tensors["embeddings"], info, reranker)

    def encode_context(self, context: Sequence[object]) -> np.ndarray:
        """One context (earlier turns, oldest first; see `ranker_text.as_context_turns`)."""
        return self.context(context).vector

    def context(self, context: Sequence[object]) -> EncodedContext:
        """One context, formatted and encoded: what `rank` and `pool_score` take."""
        return self.contexts([context])[0]

    def contexts(self, contexts: Sequence[Sequence[object]]) -> list[EncodedContext]:
        """Several contexts in one encoder call (the server's micro-batches)."""
        texts = [format_context(context, self.info.context_turns) for context in contexts]
        if not texts:
            return []
        vectors = self.encoder.encode_contexts(texts)
        return [EncodedContext(t, v) for t, v in zip(texts, vectors, strict=True)]

    def score(self, context: Sequence[object], candidates: Sequence[str]) -> np.ndarray:
        """The ranker's score of each candidate reply for the context, one per candidate, in
        order (higher is better). Pool replies use their stored vectors; other texts are
        encoded on the fly. With a re-ranker, the scores are its own (every candidate
        re-ranked), not cosines."""
        encoded = self.context(context)
        fused = self.reply_vectors(candidates) @ encoded.vector
        if self.reranker is None:
            return fused
        return self.reranker.rescore(encoded.text, [words(t) for t in candidates], fused)

    def reply_vectors(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.embeddings.shape[1]), dtype=np.float32)
        unknown = [i for i, t in enumerate(texts) if t not in self._by_text]
        known = [i for i in range(len(texts)) if i not in set(unknown)]
        if known:
            vectors[known] = self.embeddings[[self._by_text[texts[i]] for i in known]]
        if unknown:
            vectors[unknown] = self.encoder.encode_replies([texts[i] for i in unknown])
        return vectors

    def template_indices(self, intent: str) -> list[int]:
        """Pool rows of `intent`'s response templates, in variant order."""
        return list(self._by_intent.get(intent, []))

    def rank(
        self, context: EncodedContext | np.ndarray, indices: Sequence[int] | None = None
    ) -> list[int]:
        """Pool rows (all, or `indices`) best first for an encoded context. With a
        re-ranker and an EncodedContext, the best `top_k` by the encoders are re-ordered
        by the re-ranker; a bare vector is ranked by the encoders alone."""
        vector = context.vector if isinstance(context, EncodedContext) else context
        if indices is None:  # the whole pool: no copy of the embedding matrix
            ranked = np.argsort(-(self.embeddings @ vector), kind="stable").tolist()
        else:
            rows = np.asarray(indices, dtype=np.int64)
            scores = self.embeddings[rows] @ vector
            ranked = rows[np.argsort(-scores, kind="stable")].tolist()
        if not ranked:
            return []
        if self.reranker is None or not isinstance(context, EncodedContext):
            return ranked
        return self._rerank(context, ranked)

    def _rerank(self, context: EncodedContext, ranked: list[int]) -> list[int]:
        assert self.reranker is not None  # checked by the caller
        top, rest = ranked[: self.reranker.top_k], ranked[self.reranker.top_k :]
        fused = self.embeddings[top] @ context.vector
        scores = self.reranker.rescore(context.text, [self._words[row] for row in top], fused)
        return [top[i] for i in np.argsort(-scores, kind="stable")] + rest

    def pool_score(self, context: EncodedContext | np.ndarray, row: int) -> float:
        """The encoders' fused score of a pool row (what `info.min_score` is set on)."""
        vector = context.vector if isinstance(context, EncodedContext) else context
        return float(self.embeddings[row] @ vector)


def load_ranker(model_dir: Path | str, backend: str | None = None) -> ResponseRanker:
    """The ranker of a trained model directory (manifest and checksums verified).

    Raises ModelError when the model has no ranker (it was trained without dialogues) or
    when a ranker file is missing or altered."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    if manifest.ranker is None:
        raise ModelError(f"{model_dir}: this model has no response ranker (no dialogues)")
    return ResponseRanker.load(model_dir, manifest.ranker, backend)


def _read_reranker(path: Path) -> Reranker:
    data = _read_json(path)
    try:
        return Reranker.from_json(data)
    except TypeError as exc:
        raise ModelError(f"{path}: not a ranker re-ranker file ({exc})") from exc


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from exc
