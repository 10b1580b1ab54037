"""How many encoder layers the intent head reads: chosen on held-out data, trained,
exported and served as one."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from retrieval.bot_model import BotModel, load_serving_encoder
from retrieval.intent_classifier import last_layers
from retrieval.model_dir import read_manifest
from supportbot.config import TrainingConfig
from supportbot.errors import ConfigError
from training.head_layers import choose_head, layer_choices
from training.scaffold import scaffold_project
from training.train import train_model

DIM = 16


def test_layer_choices_follow_the_config():
    assert layer_choices(TrainingConfig(), has_holdout=True) == (1, 2)
    assert layer_choices(TrainingConfig(), has_holdout=False) == (1,)
    assert layer_choices(TrainingConfig(feature_layers=3), has_holdout=False) == (3,)


def test_last_layers_keeps_the_sentence_vector_at_the_end():
    features = np.arange(12.0).reshape(2, 6)
    assert last_layers(features, 3, 1).tolist() == [[4.0, 5.0], [10.0, 11.0]]
    assert last_layers(features, 3, 3) is features


def two_layer_data(signal_in_inner_layer: bool, seed: int = 0):
    """Features of 2 layers x DIM for 4 labels: one layer carries the label, one is noise."""
    rng = np.random.default_rng(seed)
    targets = np.repeat(np.arange(4), 60)
    centres = rng.normal(size=(4, DIM)) * 2
    signal = centres[targets] + rng.normal(size=(len(targets), DIM))
    noise = rng.normal(size=(len(targets), DIM))
    blocks = [signal, noise] if signal_in_inner_layer else [noise, signal]
    features = np.hstack(blocks).astype(np.float32)
    order = rng.permutation(len(targets))
    train, held = order[:160], order[160:]
    return (features[train], targets[train]), (features[held], targets[held], None)


@pytest.mark.parametrize(("signal_in_inner_layer", "expected"), [(True, 2), (False, 1)])
def test_held_out_accuracy_chooses_the_layer_count(signal_in_inner_layer, expected):
    train, held = two_layer_data(signal_in_inner_layer)
    lines: list[str] = []
    config = TrainingConfig(epochs=20)
    head = choose_head(train, held, (1, 2), 4, config, lines.append)
    assert head.layers == expected
    assert head.weight.shape == (4, DIM * expected)
    accuracy = head.metrics["holdout_accuracy_by_feature_layers"]
    assert set(accuracy) == {"1", "2"}
    assert accuracy[str(expected)] >= max(accuracy.values())
    assert any("held-out accuracy by encoder layers read" in line for line in lines)


def scaffolded(tmp_path, **training):
    project = tmp_path / "bot"
    scaffold_project(project)
    (project / "data" / "kb" / "shop-help.md").unlink()
    config_path = project / "supportbot.yml"
    config = yaml.safe_load(config_path.read_text())
    config["training"].update(ranker_minutes=0, **training)
    config_path.write_text(yaml.safe_dump(config))
    return project


def test_a_model_reading_two_layers_trains_exports_and_serves(tmp_path):
    train_model(scaffolded(tmp_path, feature_layers=2), tmp_path / "model", lambda line: None)

    manifest = read_manifest(tmp_path / "model")
    assert manifest.classifier.feature_layers == 2
    export = json.loads((tmp_path / "model" / "encoder-onnx" / "onnx_export.json").read_text())
    assert export["layers"] == 2
    model = BotModel.load(tmp_path / "model")
    assert model.classifier.weight.shape[1] == 2 * manifest.base_model.dimension
    [analysis] = model.analyse(["where is my order?"])
    assert analysis.prediction.intent == "order_status"
    [(prediction, why)] = model.explain(["where is my order?"])
    assert why["supporting_examples"][0]["intent"] == "order_status"
    texts = ["where is my order?", "can I pay with PayPal", "I want to send this back"]
    torch_encoder = load_serving_encoder(tmp_path / "model", manifest, backend="torch")
    served, reference = model.encode_features(texts), torch_encoder.encode_layers(texts, 2)
    assert (served * reference).reshape(3, 2, -1).sum(axis=2).min() > 0.97


@pytest.mark.parametrize("value", [0, "two", True, 1.5])
def test_a_layer_count_that_is_not_one_is_named_in_one_line(value):
    with pytest.raises(ValidationError) as error:
        TrainingConfig(feature_layers=value)
    [problem] = error.value.errors()
    assert problem["loc"] == ("feature_layers",)
    expected = f'expected "auto" or a whole number of layers from 1, got {value!r}'
    assert problem["msg"] == f"Value error, {expected}"


def test_more_layers_than_the_encoder_has_fail_before_training(tmp_path):
    project = scaffolded(tmp_path, feature_layers=7)
    message = "training.feature_layers: 7 is more than the encoder's 6 layers"
    with pytest.raises(ConfigError, match=re.escape(message)):
        train_model(project, tmp_path / "model", lambda line: None)
    assert not (tmp_path / "model").exists()
