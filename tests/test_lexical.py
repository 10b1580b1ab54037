import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from retrieval.intent_classifier import ClassifierSettings, IntentClassifier
from retrieval.lexical import CHAR_NGRAMS, WORD_NGRAMS, LexicalModel, fuse
from supportbot.errors import ModelError
from training.lexical_trainer import choose_share, fit_lexical_model

TEXTS = [
    "my card has not arrived yet",
    "where is my new card",
    "top up by bank transfer failed",
    "why is my top up still pending",
    "I want to close my account",
    "please delete my account",
]
TARGETS = np.array([0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("spec", [WORD_NGRAMS, CHAR_NGRAMS])
def test_frozen_block_reproduces_scikit_learn_tfidf(spec):
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    block = next(b for b in model.blocks if b.spec == spec)
    reference = TfidfVectorizer(
        analyzer=spec.analyzer, ngram_range=spec.ngram_range, sublinear_tf=True
    ).fit(TEXTS)
    queries = ["card card not arrived", "top up pending by transfer", "zzz"]
    order = [reference.vocabulary_[term] for term in block.vocabulary]
    expected = reference.transform(queries).toarray()[:, order]
    np.testing.assert_allclose(block.transform(queries).toarray(), expected, atol=1e-6)


@pytest.mark.parametrize("spec", [WORD_NGRAMS, CHAR_NGRAMS])
def test_weighted_rows_equal_the_sparse_matrix(spec):
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    block = next(b for b in model.blocks if b.spec == spec)
    queries = ["card card not arrived", "Top-up PENDING by transfer", "zzz", "", "my  card\tcard"]
    for batch in (queries, queries[:1], queries[2:4]):
        rows, ids, values = block.weighted_rows(batch)
        dense = np.zeros((len(batch), len(block.vocabulary)), dtype=np.float32)
        dense[rows, ids] = values
        np.testing.assert_allclose(dense, block.transform(batch).toarray(), atol=1e-6)


def test_remembered_words_give_the_same_rows():
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    block = next(b for b in model.blocks if b.spec == CHAR_NGRAMS)
    first = block.weighted_rows(["my card, my CARD"])
    again = block.weighted_rows(["my card, my CARD"])
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_logits_equal_the_sparse_product():
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    queries = [*TEXTS, "zzz", "", "card top up account"]
    for batch in (queries, queries[:1], ["zzz"], ["", "card"]):
        expected = np.asarray(model.features(batch) @ model.weight_t) + model.bias
        np.testing.assert_allclose(model.logits(batch), expected, atol=1e-5)


def test_fitted_model_separates_its_training_intents():
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    assert model.logits(["has my card arrived", "close the account"]).argmax(1).tolist() == [0, 2]


def test_saved_model_loads_with_identical_logits(tmp_path):
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    files = model.save(tmp_path)
    assert all((tmp_path / f).is_file() for f in files)
    loaded = LexicalModel.load(tmp_path)
    np.testing.assert_allclose(loaded.logits(TEXTS), model.logits(TEXTS), atol=1e-5)


def test_label_absent_from_training_texts_is_never_chosen():
    model = fit_lexical_model(TEXTS[:4], TARGETS[:4], 3, regularisation=10.0)
    assert model.n_labels == 3
    assert 2 not in model.logits(TEXTS).argmax(1)


def test_vocabulary_of_wrong_size_is_a_model_error(tmp_path):
    model = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    model.save(tmp_path)
    vocab = tmp_path / "classifier/lexical_vocabulary.json"
    vocab.write_text(vocab.read_text().replace('"my card",', "", 1))
    with pytest.raises(ModelError, match="vocabulary has"):
        LexicalModel.load(tmp_path)


def test_share_is_zero_when_the_ngram_model_only_adds_noise():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 5, size=200)
    head = np.eye(5)[targets] * 4 + rng.normal(size=(200, 5))
    noise = rng.normal(size=(200, 5)) * 4
    share, accuracy = choose_share(head, noise, targets)
    assert share == 0.0
    assert accuracy["0.0"] >= max(accuracy.values())


def test_share_grows_when_the_ngram_model_fixes_the_head_mistakes():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 5, size=200)
    head = np.eye(5)[targets] * 2 + rng.normal(size=(200, 5)) * 1.5
    lexical = np.eye(5)[targets] * 2 + rng.normal(size=(200, 5)) * 1.5
    share, accuracy = choose_share(head, lexical, targets)
    assert share > 0
    assert accuracy[f"{share:.1f}"] > accuracy["0.0"]


def test_fuse_without_ngram_model_keeps_the_head_ranking():
    head = np.array([[2.0, 1.0, 0.5]])
    fused = fuse(head, None, 0.3)
    assert fused.argmax() == 0
    np.testing.assert_allclose(np.exp(fused).sum(), 1.0, rtol=1e-6)


def test_classifier_with_ngram_model_saves_loads_and_predicts_the_same(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 8)).astype(np.float32)
    labels = ["card_arrival", "top_up", "close_account"]
    settings = ClassifierSettings(1.0, 0.0, 0.1, lexical_share=0.5)
    lexical = fit_lexical_model(TEXTS, TARGETS, 3, regularisation=10.0)
    classifier = IntentClassifier(
        labels, np.zeros((3, 8), np.float32), np.zeros(3, np.float32), settings, None, lexical
    )
    classifier.save(tmp_path)
    loaded = IntentClassifier.load(tmp_path, labels, settings, lexical=True)
    predicted = [p.intent for p in loaded.predict(vectors, TEXTS)]
    # The vector head is all zeros here, so the n-gram model alone decides.
    assert predicted == [labels[t] for t in TARGETS]
    assert predicted == [p.intent for p in classifier.predict(vectors, TEXTS)]
