"""What training puts in the knowledge base, and what a retrain keeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.kb_store import KnowledgeStore
from supportbot.testing import write_file
from training.index_builder import carried_documents, training_documents
from training.kb_manager import add_documents
from training.schema import Article, Dialogue, Source, TrainingData, Turn


def fake_encode(texts: list[str]) -> np.ndarray:
    vectors = np.ones((len(texts), 384), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_one_document_per_file_with_intents_as_answer_keys():
    chat = Dialogue(
        "c1",
        (
            Turn("customer", "where is my parcel please", ("order_status",)),
            Turn("agent", "It ships tomorrow."),
            Turn("customer", "ok thanks"),
            Turn("agent", "You're welcome!"),
        ),
        Source("data/chats.jsonl", 1),
    )
    escalated = Dialogue(
        "c2",
        (Turn("customer", "I want a refund right now"), Turn("agent", "Passing you on.")),
        Source("data/chats.jsonl", 2),
        outcome="escalated",
    )
    article = Article("Delivery", "We deliver in 3 days.", Source("data/kb/help.md", 3))
    data = TrainingData(dialogues=[chat, escalated], articles=[article])
    documents = {d.name: d for d in training_documents(data, fake_encode, True)}
    assert set(documents) == {"data/chats.jsonl", "data/kb/help.md"}
    [pair] = documents["data/chats.jsonl"].passages
    assert (pair["question"], pair["answer"], pair["key"]) == (
        "where is my parcel please",
        "It ships tomorrow.",
        "order_status",
    )
    assert pair["source"] == "data/chats.jsonl:1 (dialogue c1)"
    [help_passage] = documents["data/kb/help.md"].passages
    assert (help_passage["kind"], help_passage["source"]) == ("article", "data/kb/help.md:3")
    assert len(documents["data/kb/help.md"].vectors) == len(documents["data/kb/help.md"].texts[0])
    assert set(d.name for d in training_documents(data, fake_encode, False)) == {"data/kb/help.md"}


def test_a_retrain_keeps_documents_added_with_kb_add(model_dir_copy: Path, tmp_path: Path):
    faq = write_file(tmp_path, "faq.csv", "question,answer\nDo you ship to Norway?,Yes.\n")
    add_documents(model_dir_copy, [faq], progress=lambda line: None)
    [carried] = carried_documents(model_dir_copy, fake_encode)
    assert (carried.name, carried.origin, carried.format) == ("faq.csv", "added", "csv")
    assert [p["question"] for p in carried.passages] == ["Do you ship to Norway?"]
    store = KnowledgeStore(model_dir_copy, readonly=True)
    training = [d.name for d in store.documents() if d.origin == "training"]
    store.close()
    assert training and "faq.csv" not in training
