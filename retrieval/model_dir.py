"""The model directory contract: a manifest that describes and checksums every file.

Training writes it (training/model_writer.py); the runtime reads it here. A missing or
mismatched file is a loud ModelError at load, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from supportbot.errors import ModelError

MANIFEST_FILE = "manifest.json"
MODEL_FORMAT = "supportbot-model"
FORMAT_VERSION = 2


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BaseModelInfo(_Section):
    name: str
    package: str
    package_version: str
    dimension: int


class ClassifierInfo(_Section):
    mode: str
    head: str
    encoder: str | None
    """Folder of a fine-tuned encoder inside the model directory; None means the base encoder."""
    onnx: str | None = None
    """Folder of the int8 ONNX export of that encoder, used for serving when present."""
    temperature: float
    oos_threshold: float
    similarity_threshold: float
    ambiguity_margin: float
    lexical: str | None = None
    """The n-gram model's weights file, when training found that fusing it helps."""
    lexical_share: float = 0.0
    support_weight: float = 0.0
    """Added to the confidence per unit of similarity before `oos_threshold` cuts."""
    feature_layers: int = Field(default=1, ge=1)
    """How many of the encoder's last layers the head reads; the ONNX export outputs them."""


class RetrievalInfo(_Section):
    """The knowledge base. Its store (`index/kb.sqlite` and the FAISS files it names)
    changes after training through `supportbot kb`, so it is deliberately not in `files`:
    `store_id` ties the store to this model, and the store checksums its own FAISS files."""

    store: str
    store_id: str
    count: int
    """Passages written by training; `supportbot kb list` shows the current ones."""
    min_score: float
    """Fused score below which the bot abstains from answering from retrieval."""
    top_k: int
    lexical_weight: float
    index: Literal["auto", "exact", "approximate"]
    """IVF for "approximate"; "auto" chooses by size (retrieval/vector_index.py)."""
    approximate_above: int
    nprobe: int
    seed: int
    """Seeds IVF k-means when `supportbot kb` rebuilds the index."""
    calibration: dict
    """How min_score was chosen: method, held-out counts, precision and coverage."""
    article_min_score: float | None = None
    """The threshold for help-article hits, calibrated on their own (no answer key to
    judge them by, so on the held-out off-topic questions they must not answer); None:
    `min_score` for every hit (models trained before it existed)."""

    def threshold_for(self, kind: str) -> float:
        """The abstain threshold for a hit of this passage kind ("article" or "qa")."""
        if kind == "article" and self.article_min_score is not None:
            return self.article_min_score
        return self.min_score


class RankerInfo(_Section):
    """The response ranker (retrieval/ranker.py): a fine-tuned bi-encoder and its candidate
    pool with precomputed embeddings; every file is listed in `files`."""

    encoder: str
    onnx: str | None = None
    candidates: str
    embeddings: str
    count: int
    context_turns: int
    """Turns the ranker reads: the longest window of any of its parts."""
    transformer_turns: int | None = None
    """Turns the transformer reads, when fewer than `context_turns` (it gets the last ones)."""
    max_context_tokens: int
    max_reply_tokens: int
    min_score: float
    """Below this score a reply chosen among all candidates (intent unknown) is not sent."""
    ngrams: str | None = None
    """The n-gram encoder's weights; its score is added with `ngram_weight`."""
    ngram_vocab: str | None = None
    ngram_weight: float = 0.0
    reranker: str | None = None
    """The second stage's weights (retrieval/ranker_rerank.py), when held-out data kept it."""


class Manifest(_Section):
    format: str
    format_version: int
    name: str
    version: str
    created_at: str
    supportbot_version: str
    base_model: BaseModelInfo
    labels: list[str]
    classifier: ClassifierInfo
    retrieval: RetrievalInfo | None
    responses: str | None
    ranker: RankerInfo | None = None
    kb_answers: str | None = None
    """Knowledge-base answers the classifier learned as classes (retrieval/kb_answers.py)."""
    data_hash: str
    data_files: list[str]
    config: dict
    metrics: dict
    files: dict[str, str]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(model_dir: Path, verify: bool = True) -> Manifest:
    """Load and check a model directory's manifest; raise ModelError saying what is wrong."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelError(
            f"{model_dir}: model directory not found (train one with `supportbot train`)"
        )
    path = model_dir / MANIFEST_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir}: not a supportbot model directory ({MANIFEST_FILE} missing)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: manifest is not valid JSON") from exc
    if not isinstance(raw, dict) or raw.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a supportbot model manifest")
    if raw.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path}: model format version {raw.get('format_version')} is not supported by this "
            f"supportbot (expects {FORMAT_VERSION}); retrain the model"
        )
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        key = ".".join(str(part) for part in problem["loc"])
        raise ModelError(f"{path}: {key}: {problem['msg']}") from exc
    if verify:
        verify_files(model_dir, manifest)
    return manifest


def verify_files(model_dir: Path, manifest: Manifest) -> None:
    for relative, expected in manifest.files.items():
        file = model_dir / relative
        if not file.is_file():
            raise ModelError(f"{model_dir}: file {relative} listed in the manifest is missing")
        if sha256_file(file) != expected:
            raise ModelError(f"{model_dir}: file {relative} does not match its manifest checksum")
