"""Builds the knowledge base from help articles and resolved dialogue pairs: one document
per data file, written to the model's kb store, with the abstain threshold calibrated on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.index import Passage, PassageIndex
from retrieval.kb_store import STORE_FILE, KnowledgeStore, NewDocument
from retrieval.knowledge_base import create_knowledge_base, vector_settings
from retrieval.model_dir import RetrievalInfo
from supportbot.config import RetrievalConfig
from training.retrieval_calibration import calibrate_article_min_score, calibrate_min_score
from training.schema import Article, Dialogue, TrainingData

Encode = Callable[[list[str]], np.ndarray]


class Encoder(Protocol):
    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


MIN_QUESTION_WORDS = 3
UNUSABLE_OUTCOMES = {"escalated", "abandoned"}
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".csv": "csv"}


def article_passage(article: Article) -> Passage:
    kind = "qa" if article.question else "article"
    return Passage(
        kind, article.title, article.text, str(article.source), article.question, article.url
    )


def dialogue_pairs(dialogues: list[Dialogue]) -> list[Passage]:
    """Customer question -> the agent's next reply, from dialogues not escalated or abandoned.

    Short turns ("hi", "thanks") are skipped: they carry no question to match against.
    Identical pairs are kept once. The customer turn's intent, when labelled, is the pair's
    answer key, which calibration uses to tell a right answer from a wrong one.
    """
    seen: set[tuple[str, str]] = set()
    passages = []
    for dialogue in dialogues:
        if dialogue.outcome in UNUSABLE_OUTCOMES:
            continue
        for turn, reply in pairwise(dialogue.turns):
            if turn.speaker != "customer" or reply.speaker != "agent":
                continue
            if len(turn.text.split()) < MIN_QUESTION_WORDS:
                continue
            key = (turn.text.casefold(), reply.text)
            if key in seen:
                continue
            seen.add(key)
            source = f"{dialogue.source} (dialogue {dialogue.id})"
            answer_key = turn.intents[0] if turn.intents else None
            passages.append(
                Passage("qa", turn.text, reply.text, source, question=turn.text, key=answer_key)
            )
    return passages


def new_document(
    name: str, origin: str, fmt: str, path: str, passages: list[Passage], encode: Encode
) -> NewDocument:
    """A document with every passage's search texts embedded in one encoder call."""
    texts = [p.search_texts() for p in passages]
    vectors = encode([text for group in texts for text in group])
    return NewDocument(name, origin, fmt, path, [p.to_row() for p in passages], texts, vectors)


def training_documents(
    data: TrainingData, encode: Encode, include_dialogue_pairs: bool
) -> list[NewDocument]:
    """One document per knowledge-base file, and one per dialogue file's resolved pairs."""
    groups: dict[str, tuple[str, list[Passage]]] = {}
    for article in data.articles:
        fmt = FORMATS.get(Path(article.source.path).suffix.lower(), "text")
        groups.setdefault(article.source.path, (fmt, []))[1].append(article_passage(article))
    if include_dialogue_pairs:
        by_file: dict[str, list[Dialogue]] = {}
        for dialogue in data.dialogues:
            by_file.setdefault(dialogue.source.path, []).append(dialogue)
        for path, dialogues in by_file.items():
            groups.setdefault(path, ("dialogues", []))[1].extend(dialogue_pairs(dialogues))
    return [
        new_document(name, "training", fmt, name, passages, encode)
        for name, (fmt, passages) in groups.items()
        if passages
    ]


def build_knowledge_base(
    data: TrainingData,
    encoder: Encoder,
    config: RetrievalConfig,
    model_dir: Path,
    seed: int,
    previous: Path | None = None,
    progress: Callable[[str], None] = print,
) -> RetrievalInfo:
    """Write the kb store into `model_dir` (empty when there is nothing to retrieve from,
    so `supportbot kb add` still works) and calibrate the abstain threshold on it.

    Documents added with `supportbot kb add` to `previous` (the model being replaced) are
    kept, re-embedded with the new encoder; training's own documents come from the data.
    """
    info = RetrievalInfo(
        store=STORE_FILE,
        store_id=uuid.uuid4().hex,
        count=0,
        min_score=config.fallback_min_score,
        top_k=config.top_k,
        lexical_weight=config.lexical_weight,
        index=config.index,
        approximate_above=config.approximate_above,
        nprobe=config.nprobe,
        seed=seed,
        calibration={},
    )
    documents = training_documents(data, encoder.encode, config.include_dialogue_pairs)
    carried = carried_documents(previous, encoder.encode) if previous else []
    if carried:
        names = ", ".join(d.name for d in carried[:5]) + (" ..." if len(carried) > 5 else "")
        progress(f"keeping {len(carried)} document(s) added with `supportbot kb add`: {names}")
    create_knowledge_base(
        model_dir, info.store_id, encoder.dimension, documents + carried, vector_settings(info)
    )
    index = PassageIndex.open(model_dir, info)
    try:
        info.count = len(index)
        info.min_score, info.calibration = calibrate_min_score(
            index, encoder.encode, data, config, seed
        )
        if config.min_score is None:
            info.article_min_score = calibrate_article_min_score(
                index, encoder.encode, data, info.min_score, info.calibration
            )
    finally:
        index.store.close()
    progress(
        f"knowledge base: {info.count} passages, index {index.kind}, abstain below "
        f"{info.min_score} ({info.calibration['method']})"
        + (f", help articles below {info.article_min_score}" if info.article_min_score else "")
    )
    return info


def carried_documents(previous: Path, encode: Encode) -> list[NewDocument]:
    """The `kb add` documents of the model directory about to be replaced, if it has any."""
    if not (Path(previous) / STORE_FILE).is_file():
        return []
    store = KnowledgeStore(previous, readonly=True)
    try:
        added = [d for d in store.documents() if d.origin == "added"]
        return [
            new_document(
                d.name,
                d.origin,
                d.format,
                d.path,
                [Passage(**row) for row in store.passages_of(d.name)],
                encode,
            )
            for d in added
        ]
    finally:
        store.close()
