"""The model directory: atomic writes, self-description, loud errors on damage."""

from __future__ import annotations

import json

import pytest

from retrieval.bot_model import BotModel
from retrieval.model_dir import read_manifest
from supportbot.errors import ModelError
from training.model_writer import staged_model_dir


def test_manifest_describes_the_model(tiny_model_dir):
    manifest = read_manifest(tiny_model_dir)
    assert manifest.base_model.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.base_model.dimension == 384
    assert "order_status" in manifest.labels and "out_of_scope" in manifest.labels
    assert len(manifest.data_hash) == 64
    assert manifest.retrieval is not None and manifest.retrieval.count > 0
    assert 0 < manifest.classifier.oos_threshold < 1
    assert manifest.metrics["holdout_accuracy"] > 0.5
    assert set(manifest.files) >= {"classifier/head.safetensors", "responses.json"}
    assert not any(name.startswith("index/") for name in manifest.files)


def test_failed_training_leaves_no_directory(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError), staged_model_dir(target) as stage:
        (stage / "half.bin").write_bytes(b"x")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_retrain_keeps_the_previous_model(model_dir_copy):
    before = (model_dir_copy / "manifest.json").read_text()
    with pytest.raises(KeyboardInterrupt), staged_model_dir(model_dir_copy) as stage:
        (stage / "manifest.json").write_text("{}")
        raise KeyboardInterrupt
    assert (model_dir_copy / "manifest.json").read_text() == before
    assert [p.name for p in model_dir_copy.parent.iterdir()] == ["model"]


def test_refuses_to_overwrite_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ModelError, match="is not a supportbot model directory; refusing"):
        with staged_model_dir(tmp_path):
            pass
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="model directory not found"):
        BotModel.load(tmp_path / "nope")


def test_tampered_file_fails_its_checksum(model_dir_copy):
    (model_dir_copy / "responses.json").write_text("{}")
    with pytest.raises(ModelError, match="responses.json does not match its manifest checksum"):
        BotModel.load(model_dir_copy)


def test_missing_file_is_named(model_dir_copy):
    (model_dir_copy / "classifier" / "head.safetensors").unlink()
    with pytest.raises(
        ModelError, match="classifier/head.safetensors listed in the manifest is missing"
    ):
        BotModel.load(model_dir_copy)


def test_unsupported_format_version(model_dir_copy):
    path = model_dir_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="model format version 99 is not supported"):
        read_manifest(model_dir_copy)


def test_missing_example_texts_are_a_model_error(model_dir_copy):
    (model_dir_copy / "classifier" / "examples.json").unlink()
    with pytest.raises(ModelError, match="classifier/examples.json"):
        BotModel.load(model_dir_copy)
