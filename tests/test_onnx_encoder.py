"""The ONNX encoder: same vectors as the PyTorch encoder, independent of batching, loud errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from retrieval import onnx_encoder
from retrieval.encoder import TextEncoder, base_model_path
from retrieval.onnx_encoder import OnnxEncoder, export_onnx
from supportbot.errors import ModelError

SENTENCES = [
    "hi",
    "?",
    "ok!!!",
    "How do I locate my card?",
    "I still have not received my new card, I ordered over a week ago.",
    "Why was I charged a fee for withdrawing cash?",
    "my top-up failed :( can u help",
    "CAN I CHANGE MY PIN AT AN ATM???",
    "The exchange rate on my transfer to EUR looks wrong (1.08 vs 1.12).",
    "Is there a limit on how much I can top up via Apple Pay / Google Pay?",
    "I think someone stole my card — there are payments I don't recognise.",
    "¿Dónde está mi tarjeta? La pedí hace dos semanas.",
    "Wo ist meine Karte? Ich warte seit Tagen.",
    "Où est ma carte bancaire ?",
    "我的卡在哪里？",
    "カードが届きません",
    "Моя карта заблокирована, что делать?",
    "بطاقتي لا تعمل",
    "thanks 🙏👍",
    "refund",
    "please cancel the transaction #12345 made on 2024-03-01 at 14:32",
    "user@example.com says the verification code never arrived",
    "Hello,\nI moved house.\nHow do I update my address?\n\nThanks",
    "\ttabs   and    extra     spaces\t",
    "What are the fees for international transfers, and how long do they take to arrive? "
    "I need to send money to my family abroad every month and want the cheapest option.",
    " ".join(["My virtual card keeps getting declined at online shops."] * 6),
    "word " * 400,
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "I'd like to close my account & get my remaining balance back, ASAP!",
    "Do you support contactless payments in the U.K.?",
]


@pytest.fixture(scope="module")
def int8_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(base_model_path(), tmp_path_factory.mktemp("int8")).parent


@pytest.fixture(scope="module")
def int8_encoder(int8_dir: Path) -> OnnxEncoder:
    return OnnxEncoder(int8_dir, threads=2)


@pytest.fixture(scope="module")
def reference_vectors() -> np.ndarray:
    return TextEncoder().encode(SENTENCES)


def test_export_writes_a_self_contained_directory(int8_dir):
    names = {p.name for p in int8_dir.iterdir()}
    assert {"model.onnx", "tokenizer.json", "sentence_bert_config.json", "config.json"} <= names
    assert not [n for n in names if n.startswith(".export-")]


def test_int8_export_is_fused_and_deterministic(int8_dir, tmp_path):
    """Unfused graphs still give right vectors, only twice as slowly: check the fusion held."""
    import collections

    import onnx

    graph = onnx.load(str(int8_dir / "model.onnx"), load_external_data=False).graph
    ops = collections.Counter(node.op_type for node in graph.node)
    expected = {"QAttention": 6, "EmbedLayerNormalization": 1, "SkipLayerNormalization": 12}
    assert {op: ops[op] for op in expected} == expected
    again = export_onnx(base_model_path(), tmp_path)
    assert again.read_bytes() == (int8_dir / "model.onnx").read_bytes()


def test_shapes_and_dtype(int8_encoder):
    vectors = int8_encoder.encode(SENTENCES[:3])
    assert int8_encoder.dimension == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    empty = int8_encoder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


def test_vectors_are_unit_length(int8_encoder):
    norms = np.linalg.norm(int8_encoder.encode(SENTENCES), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_int8_agrees_with_pytorch(int8_encoder, reference_vectors):
    cosines = (int8_encoder.encode(SENTENCES) * reference_vectors).sum(axis=1)
    assert cosines.mean() > 0.98, cosines
    assert cosines.min() > 0.95, dict(zip(SENTENCES, cosines, strict=True))


def test_int8_vector_does_not_depend_on_its_batch(int8_encoder):
    batched = int8_encoder.encode(SENTENCES, batch_size=8)
    one_by_one = np.vstack([int8_encoder.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)


def test_serving_encoder_runs_texts_side_by_side_with_the_same_vectors(int8_encoder):
    serving = onnx_encoder.serving_encoder(int8_encoder.path)
    if onnx_encoder.usable_cores() > 1:
        assert serving._runners is not None
    one_by_one = np.vstack([int8_encoder.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose(serving.encode(SENTENCES), one_by_one, atol=1e-5)


def test_fp32_export_matches_pytorch_and_padding_changes_nothing(tmp_path, reference_vectors):
    encoder = OnnxEncoder(export_onnx(base_model_path(), tmp_path, quantize=False).parent)
    assert not encoder.batch_invariant  # padded batches really run
    batched = encoder.encode(SENTENCES, batch_size=8)
    one_by_one = np.vstack([encoder.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-4)
    assert (batched * reference_vectors).sum(axis=1).min() > 0.9999


def test_two_layer_export_matches_pytorch_layer_by_layer(tmp_path):
    torch_features = TextEncoder().encode_layers(SENTENCES, 2)
    encoder = OnnxEncoder(export_onnx(base_model_path(), tmp_path, quantize=False, layers=2).parent)
    features = encoder.encode_layers(SENTENCES, 2)
    assert features.shape == (len(SENTENCES), 2 * encoder.dimension)
    np.testing.assert_allclose(features[:, encoder.dimension :], encoder.encode(SENTENCES))
    agreement = (features * torch_features).reshape(len(SENTENCES), 2, -1).sum(axis=2)
    assert agreement.min() > 0.9999
    # The layer before the last is a different vector, not a copy of the sentence vector.
    assert (features[:, : encoder.dimension] * features[:, encoder.dimension :]).sum(1).max() < 0.99
    with pytest.raises(ModelError, match="reads 3 layers but this export outputs 2"):
        encoder.encode_layers(SENTENCES, 3)


def test_exporting_more_layers_than_the_model_has_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="cannot export its last 7 layers; the model has 6"):
        export_onnx(base_model_path(), tmp_path, layers=7)


def test_empty_folder_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path}: model.onnx missing")):
        OnnxEncoder(tmp_path)
    with pytest.raises(ModelError, match=re.escape(f"{tmp_path}: config.json missing")):
        export_onnx(tmp_path, tmp_path / "out")


def test_failed_export_leaves_no_model(tmp_path, monkeypatch):
    def broken_export(model_dir: Path, onnx_path: Path, **_: object) -> list[str]:
        onnx_path.write_bytes(b"half a model")
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(onnx_encoder, "_export_fp32", broken_export)
    with pytest.raises(RuntimeError, match="exporter crashed"):
        export_onnx(base_model_path(), tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
