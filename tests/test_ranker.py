"""The response ranker as trained by `supportbot train` on the example project (16
dialogues): what the model directory holds, the public scoring API, and the policy
choosing replies with it."""

from __future__ import annotations

import asyncio
import copy
import json

import aiohttp
import numpy as np
import pytest

from bot.channels.base import InboundMessage
from bot.dialogue import reply_ranking
from bot.dialogue.stages.policy import ResponsePolicy
from bot.dialogue.turn import Turn
from retrieval.bot_model import BotModel, ResponseTemplate
from retrieval.onnx_encoder import usable_cores
from retrieval.ranker import Candidate, RankerVectors, ResponseRanker, load_ranker
from retrieval.ranker_text import embedding_text
from supportbot.errors import ModelError
from supportbot.testing import live_server
from training.importers.dialogues import iter_dialogues
from training.precision import resolve_precision
from training.problems import ProblemLog
from training.scaffold import scaffold_project


@pytest.fixture(scope="session")
def ranker(tiny_model: BotModel) -> ResponseRanker:
    assert tiny_model.ranker is not None
    return tiny_model.ranker


@pytest.fixture(scope="session")
def example_dialogues(tmp_path_factory) -> list:
    project = tmp_path_factory.mktemp("example") / "bot"
    scaffold_project(project)
    path = project / "data" / "dialogues.jsonl"
    return list(iter_dialogues(path, "dialogues.jsonl", ProblemLog()))


def test_training_writes_the_ranker_into_the_model_directory(tiny_model_dir):
    manifest = json.loads((tiny_model_dir / "manifest.json").read_text())
    ranker = manifest["ranker"]
    assert ranker["context_turns"] == 3 and ranker["count"] > 10
    assert ranker["transformer_turns"] is None, "no n-gram encoder, so no longer window"
    assert ranker["min_score"] == 1.0, "16 dialogues are too few to answer from the open pool"
    for name in (
        "ranker/candidates.json",
        "ranker/candidates.safetensors",
        "ranker/encoder/model.safetensors",
        "ranker/encoder-onnx/model.onnx",
    ):
        assert name in manifest["files"]
    assert manifest["metrics"]["ranker_pairs"] == 25, "every agent turn but one abandoned"
    assert manifest["metrics"]["ranker_precision"] == resolve_precision("auto")


def test_the_pool_holds_every_template_and_only_reusable_history(ranker, tiny_model):
    templates = {(c.intent, c.variant) for c in ranker.candidates if c.kind == "template"}
    responses = tiny_model.responses
    expected = {(i, v) for i, variants in responses.items() for v in range(len(variants))}
    assert templates == expected
    history = {c.text for c in ranker.candidates if c.kind == "history"}
    assert "Hello! How can I help?" in history
    assert not any(any(ch.isdigit() for ch in text) for text in history)


def test_score_gives_one_score_per_candidate_and_ranks_the_true_reply_first(
    tiny_model_dir, example_dialogues
):
    ranker = load_ranker(tiny_model_dir)
    replies = sorted({t.text for d in example_dialogues for t in d.turns if t.speaker == "agent"})
    first = {}
    for dialogue in example_dialogues:
        for i, turn in enumerate(dialogue.turns):
            if turn.speaker == "agent":
                context = [(t.speaker, t.text) for t in dialogue.turns[:i]]
                scores = ranker.score(context, replies)
                assert scores.shape == (len(replies),) and np.all(np.abs(scores) <= 1.0001)
                first[(dialogue.id, i)] = replies[int(np.argmax(scores))] == turn.text
    assert np.mean(list(first.values())) >= 0.8, f"{sum(first.values())} of {len(first)}"
    assert first[("c004", 1)] and first[("c013", 1)]


def test_pool_vectors_are_the_encoders_own(ranker):
    text = next(c.text for c in ranker.candidates if c.kind == "history")
    stored = ranker.reply_vectors([text])[0]
    fresh = ranker.encoder.encode_replies([text])[0]
    assert np.allclose(stored, fresh, atol=1e-6)


def test_a_transformer_window_shorter_than_the_context_reads_only_the_last_turns(ranker):
    vectors = RankerVectors(ranker.encoder.transformer, transformer_turns=2)
    long = "[customer] my card is lost [agent] Sorry to hear that. [customer] can you block it"
    short = "[agent] Sorry to hear that. [customer] can you block it"
    np.testing.assert_allclose(
        vectors.encode_contexts([long]), vectors.encode_contexts([short]), atol=1e-6
    )
    whole = RankerVectors(ranker.encoder.transformer).encode_contexts([long])
    assert not np.allclose(whole, vectors.encode_contexts([long]), atol=1e-3)


def test_the_pytorch_backend_agrees_with_the_served_int8_one(tiny_model_dir):
    served, exact = load_ranker(tiny_model_dir), load_ranker(tiny_model_dir, backend="torch")
    context = ["do you take american express?"]
    replies = [c.text for c in served.candidates]
    a, b = served.score(context, replies), exact.score(context, replies)
    assert np.argmax(a) == np.argmax(b) and np.max(np.abs(a - b)) < 0.05


def test_the_served_ranker_encodes_on_one_thread_and_the_library_one_on_every_core(
    ranker, tiny_model_dir
):
    """Two intra-op threads spin between operators on the core the event loop needs."""

    assert ranker.encoder.transformer.onnx_threads == 1
    assert load_ranker(tiny_model_dir).encoder.transformer.onnx_threads == usable_cores()


def test_a_missing_ranker_file_is_a_model_error_naming_it(model_dir_copy):
    (model_dir_copy / "ranker" / "candidates.safetensors").unlink()
    message = "file ranker/candidates.safetensors listed in the manifest is missing"
    with pytest.raises(ModelError, match=message):
        load_ranker(model_dir_copy)
    with pytest.raises(ModelError, match=message):
        BotModel.load(model_dir_copy)


def test_a_model_without_dialogues_has_no_ranker(model_dir_copy):
    path = model_dir_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["ranker"] = None
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="this model has no response ranker"):
        load_ranker(model_dir_copy)
    assert BotModel.load(model_dir_copy).ranker is None


async def respond(model, text: str, metadata: dict | None = None, history=None) -> Turn:
    turn = Turn(InboundMessage("u1", text, "rest", metadata or {}), text)
    [turn.analysis] = model.analyse([text])

    async def done() -> None:
        return None

    await ResponsePolicy(model, history=history)(turn, done)
    return turn


async def test_the_policy_sends_the_intents_best_ranked_template(tiny_model, ranker):
    logged = [{"message": "thanks, that's all", "response": "You're welcome!"}]

    async def history(conversation_id, limit):
        assert conversation_id == "u1" and limit == 2
        return logged

    turn = await respond(tiny_model, "ok bye", history=history)
    variants = [t.text for t in tiny_model.responses["goodbye"]]
    context = [("customer", "thanks, that's all"), ("agent", "You're welcome!"), "ok bye"]
    best = variants[int(np.argmax(ranker.score(context, variants)))]
    assert turn.action == "intent_response"
    assert [r.text for r in turn.dispatcher.replies] == [best]


def with_templates(model: BotModel, intent: str, texts: list[str], **info) -> BotModel:
    """A copy of `model` whose `intent` has these templates, ranked by the same encoder."""
    ranker = model.ranker
    candidates = [Candidate(t, "template", intent, i, 0) for i, t in enumerate(texts)]
    vectors = ranker.encoder.encode_replies([embedding_text(t) for t in texts])
    changed = copy.copy(model)
    changed.responses = {**model.responses, intent: [ResponseTemplate(t) for t in texts]}
    changed.ranker = ResponseRanker(
        ranker.encoder, candidates, vectors, ranker.info.model_copy(update=info)
    )
    return changed


async def test_slots_are_filled_from_state_and_unfillable_templates_skipped(tiny_model):
    model = with_templates(
        tiny_model, "greet", ["Hello {name}! How can I help?", "Our opening hours are 9 to 5."]
    )
    named = await respond(model, "hi there", {"name": "Ana"})
    assert [r.text for r in named.dispatcher.replies] == ["Hello Ana! How can I help?"]
    anonymous = await respond(model, "hi there")
    assert [r.text for r in anonymous.dispatcher.replies] == ["Our opening hours are 9 to 5."]


async def test_an_intent_with_one_template_is_answered_without_reading_or_encoding_context(
    tiny_model, monkeypatch
):
    model = with_templates(tiny_model, "greet", ["Hello {name}! How can I help?"])

    async def history(conversation_id, limit):
        raise AssertionError("the log was read for a reply with nothing to choose between")

    def encode(context):
        raise AssertionError("the context was encoded for a reply with nothing to choose")

    monkeypatch.setattr(model.ranker, "context", encode)
    turn = await respond(model, "hi there", {"name": "Ana"}, history=history)
    assert turn.action == "intent_response"
    assert [r.text for r in turn.dispatcher.replies] == ["Hello Ana! How can I help?"]


async def test_without_an_intent_the_best_candidate_overall_is_sent_above_the_threshold(
    tiny_model,
):
    text = "what is the boiling point of tungsten"
    model = copy.copy(tiny_model)
    assert (await respond(model, text)).action == "fallback"
    ranker = tiny_model.ranker
    model.ranker = ResponseRanker(
        ranker.encoder,
        ranker.candidates,
        ranker.embeddings,
        ranker.info.model_copy(update={"min_score": -1.0}),
    )
    turn = await respond(model, text)
    best = ranker.candidates[ranker.rank(ranker.encode_context([text]))[0]]
    assert turn.action == "ranked_reply"
    assert [r.text for r in turn.dispatcher.replies] == [best.text]


def test_contexts_in_one_call_equal_each_context_alone(ranker):
    contexts = [["hi"], ["my order is late", "Sorry to hear that!", "where is it?"], ["thanks"]]
    together = ranker.contexts(contexts)
    for context, encoded in zip(contexts, together, strict=True):
        alone = ranker.context(context)
        assert encoded.text == alone.text
        np.testing.assert_allclose(encoded.vector, alone.vector, atol=1e-6)
    assert ranker.contexts([]) == []


def test_a_micro_batch_of_contexts_goes_to_each_contexts_own_ranker_in_order(
    tiny_model, monkeypatch
):
    first = tiny_model.ranker
    second = with_templates(tiny_model, "greet", ["Hello!", "Hi there!"]).ranker
    calls = []
    for name, ranker in (("first", first), ("second", second)):
        encode = ranker.contexts

        def recorded(contexts, name=name, encode=encode):
            calls.append((name, len(contexts)))
            return encode(contexts)

        monkeypatch.setattr(ranker, "contexts", recorded)
    requests = [(first, ["hi"]), (second, ["thanks"]), (first, ["where is my order?"])]
    encoded = reply_ranking.encode_in_batches(requests)
    assert sorted(calls) == [("first", 2), ("second", 1)]
    assert [e.text for e in encoded] == [r.context([t]).text for r, [t] in requests]


async def test_the_server_encodes_ranker_contexts_in_micro_batches(tiny_model, tmp_path):
    model = with_templates(tiny_model, "greet", ["Hello! How can I help?", "Hi! What do you need?"])
    batches = []
    encode = model.ranker.contexts

    def recorded(contexts):
        batches.append(len(contexts))
        return encode(contexts)

    model.ranker.contexts = recorded
    model.ranker.context = None  # the server must not encode a context on its own
    async with (
        live_server(model, tmp_path / "log.db") as live,
        aiohttp.ClientSession() as session,
    ):
        replies = await asyncio.gather(
            *(say(session, live.url, f"customer-{n}", "hello there") for n in range(6))
        )
    templates = {"Hello! How can I help?", "Hi! What do you need?"}
    assert all(len(r) == 1 and r[0]["text"] in templates for r in replies)
    assert sum(batches) == 6


async def say(session, url: str, sender: str, text: str) -> list[dict]:
    body = {"sender": sender, "message": text}
    async with session.post(f"{url}/webhooks/rest/webhook", json=body) as response:
        assert response.status == 200
        return await response.json()
