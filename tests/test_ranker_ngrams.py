"""The ranker's n-gram dual encoder: trained in torch, served in NumPy from safetensors."""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from retrieval.ranker_ngrams import NgramEncoder, context_features
from supportbot.errors import ModelError
from training.dialogue_pairs import ReplyPair
from training.ranker_ngram_trainer import NgramSettings, train_ngram_encoder

TOPICS = {
    "refund": "Your refund was issued and arrives within five days.",
    "password": "Use the reset link on the sign-in page to choose a new password.",
    "delivery": "Your parcel is on its way and the tracking number is in your email.",
    "card": "I have frozen the card; a replacement is posted today.",
}


def _pairs() -> list[ReplyPair]:
    openers = ["hi, about my {}", "question on {} please", "hello, my {} again", "{} problem"]
    pairs = []
    for topic, reply in TOPICS.items():
        for opener in openers:
            context = f"[customer] {opener.format(topic)}"
            pairs.append(ReplyPair(context=context, reply=reply, dialogue=topic))
    return pairs


def test_context_features_tag_turns_by_distance_from_the_end():
    features = context_features("[customer] lost card [agent] sorry [customer] new one")
    assert "0|new one" in features and "1|sorry" in features and "2|lost card" in features


def test_trained_encoder_ranks_the_topic_reply_first_and_survives_a_round_trip(tmp_path: Path):
    pairs = _pairs() * 8
    settings = NgramSettings(
        seed=3, dimension=16, min_count=1, epochs=30, batch_size=4, learning_rate=1e-2
    )
    trained = train_ngram_encoder(pairs, settings, progress=lambda _message: None)
    replies = list(TOPICS.values())
    contexts = [f"[customer] trouble with my {topic}" for topic in TOPICS]
    scores = trained.encoder.encode_contexts(contexts) @ trained.encoder.encode_replies(replies).T
    assert (scores.argmax(axis=1) == np.arange(len(TOPICS))).all()

    save_file(trained.tensors, str(tmp_path / "ngrams.safetensors"))
    (tmp_path / "vocab.json").write_text(json.dumps(trained.vocab), encoding="utf-8")
    loaded = NgramEncoder.load(tmp_path / "ngrams.safetensors", tmp_path / "vocab.json")
    np.testing.assert_allclose(
        loaded.encode_replies(replies), trained.encoder.encode_replies(replies), atol=1e-6
    )


def _one_member_settings(seed: int) -> NgramSettings:
    return NgramSettings(
        seed=seed,
        dimension=8,
        min_count=1,
        member_turns=(3,),
        epochs=2,
        batch_size=4,
        learning_rate=1e-2,
    )


def test_two_members_score_the_mean_of_their_cosines():
    pairs = _pairs()
    first = train_ngram_encoder(pairs, _one_member_settings(1), progress=lambda _message: None)
    second = train_ngram_encoder(pairs, _one_member_settings(2), progress=lambda _message: None)
    both = dict(first.tensors)
    both |= {k.replace("member0.", "member1."): v for k, v in second.tensors.items()}
    ensemble = NgramEncoder({**first.vocab, "member_turns": [3, 3]}, both)
    contexts, replies = ["[customer] my card"], list(TOPICS.values())

    def cosines(encoder: NgramEncoder) -> np.ndarray:
        return encoder.encode_contexts(contexts) @ encoder.encode_replies(replies).T

    expected = (cosines(first.encoder) + cosines(second.encoder)) / 2
    np.testing.assert_allclose(cosines(ensemble), expected, atol=1e-6)
    assert ensemble.dimension == 16


def test_weights_written_before_members_load_as_one_member():
    trained = train_ngram_encoder(_pairs(), _one_member_settings(1), lambda _message: None)
    unprefixed = {k.removeprefix("member0."): v for k, v in trained.tensors.items()}
    legacy = NgramEncoder(trained.vocab, unprefixed)
    texts = list(TOPICS.values())
    np.testing.assert_allclose(
        legacy.encode_replies(texts), trained.encoder.encode_replies(texts), atol=1e-6
    )


def test_a_member_missing_tensors_is_a_model_error():
    trained = train_ngram_encoder(_pairs(), _one_member_settings(1), lambda _message: None)
    broken = {k: v for k, v in trained.tensors.items() if k != "member0.reply_w2"}
    with pytest.raises(ModelError, match=r"member 0 lacks \['reply_w2'\]"):
        NgramEncoder(trained.vocab, broken)


def test_a_member_reads_only_its_own_window_of_turns():
    settings = NgramSettings(
        seed=5, dimension=8, min_count=1, member_turns=(1, 3), epochs=2, batch_size=4
    )
    pairs = [
        ReplyPair(f"[customer] hi [agent] Hello! {p.context}", p.reply, p.dialogue)
        for p in _pairs()
    ]
    trained = train_ngram_encoder(pairs, settings, progress=lambda _message: None)
    assert trained.vocab["member_turns"] == [1, 3]
    latest = "[customer] my card"
    vectors = trained.encoder.encode_contexts([latest, f"[customer] hi [agent] Hello! {latest}"])
    first_member, second_member = vectors[:, :8], vectors[:, 8:]
    np.testing.assert_allclose(first_member[0], first_member[1], atol=1e-6)
    assert not np.allclose(second_member[0], second_member[1], atol=1e-3)
    assert context_features(f"[agent] Which order? {latest}", 1) == context_features(latest)


def test_member_windows_that_do_not_match_the_members_are_a_model_error():
    trained = train_ngram_encoder(_pairs(), _one_member_settings(1), lambda _message: None)
    with pytest.raises(ModelError, match=r"member_turns \[3, 3\] does not give"):
        NgramEncoder({**trained.vocab, "member_turns": [3, 3]}, trained.tensors)
