"""Fine-tuning modes on the tiny project: each trains, saves, and serves through ONNX."""

from __future__ import annotations

import pytest
import yaml

from retrieval.bot_model import BotModel, load_serving_encoder
from retrieval.model_dir import read_manifest
from supportbot.config import TrainingConfig
from training.encoder_stage import resolve_mode
from training.scaffold import scaffold_project
from training.train import train_model


@pytest.mark.parametrize(("mode", "precision"), [("full", "fp32"), ("lora", "bf16")])
def test_fine_tuned_modes_train_and_serve(tmp_path, mode, precision):
    project = tmp_path / "bot"
    scaffold_project(project)
    # The intent classifier is what the modes change: the ranker (skipped by its zero time
    # budget) and the knowledge base (no articles) are tested elsewhere.
    (project / "data" / "kb" / "shop-help.md").unlink()
    config_path = project / "supportbot.yml"
    config = yaml.safe_load(config_path.read_text())
    config["training"].update(mode=mode, finetune_epochs=1, ranker_minutes=0, precision=precision)
    config_path.write_text(yaml.safe_dump(config))

    train_model(project, tmp_path / "model", progress=lambda line: None)

    manifest = read_manifest(tmp_path / "model")
    assert manifest.classifier.mode == mode
    assert manifest.classifier.encoder == "encoder"
    assert manifest.ranker is None and not (tmp_path / "model" / "ranker").exists()
    assert (tmp_path / "model" / "encoder" / "model.safetensors").is_file()
    assert manifest.metrics["trainable_parameters"] > 0
    assert manifest.metrics["finetune_precision"] == precision
    if mode == "lora":
        assert manifest.metrics["trainable_parameters"] < 0.1 * 22_000_000
    model = BotModel.load(tmp_path / "model")
    [analysis] = model.analyse(["where is my order?"])
    assert analysis.prediction.intent == "order_status"


def test_frozen_model_serves_with_onnx_and_falls_back_to_torch(tiny_model_dir):
    manifest = read_manifest(tiny_model_dir)
    assert manifest.classifier.mode == "frozen" and manifest.classifier.onnx == "encoder-onnx"
    onnx = load_serving_encoder(tiny_model_dir, manifest)
    torch_encoder = load_serving_encoder(tiny_model_dir, manifest, backend="torch")
    assert type(onnx).__name__ == "OnnxEncoder"
    assert type(torch_encoder).__name__ == "TextEncoder"
    texts = ["where is my order?", "can I pay with PayPal", "I want to send this back"]
    agreement = (onnx.encode(texts) * torch_encoder.encode(texts)).sum(axis=1)
    assert agreement.min() > 0.97


@pytest.mark.parametrize(
    ("mode", "examples", "expected"),
    [
        ("auto", 100, "frozen"),
        ("auto", 5000, "full"),
        ("lora", 10, "lora"),
        ("frozen", 9000, "frozen"),
    ],
)
def test_auto_mode_picks_by_data_size(mode, examples, expected):
    assert resolve_mode(TrainingConfig(mode=mode), examples) == expected
