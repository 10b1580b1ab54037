"""The encoder export cache: an unchanged encoder is exported once, then copied."""

from __future__ import annotations

import filecmp
import shutil

import numpy as np

from retrieval.encoder import base_model_path
from retrieval.onnx_encoder import OnnxEncoder
from training.onnx_cache import cache_root, cached_export, export_key


def test_the_second_export_of_the_same_encoder_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SUPPORTBOT_CACHE", str(tmp_path / "cache"))
    first, second, lines = tmp_path / "first", tmp_path / "second", []
    cached_export(base_model_path(), first, 1, lines.append)
    assert not any("reusing" in line for line in lines)
    cached_export(base_model_path(), second, 1, lines.append)
    assert any("reusing" in line for line in lines)
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    assert filecmp.cmpfiles(first, second, names, shallow=False)[0] == names
    texts = ["where is my card?", "I want a refund"]
    vectors = OnnxEncoder(first).encode(texts)
    np.testing.assert_array_equal(vectors, OnnxEncoder(second).encode(texts))
    assert [p.name for p in (cache_root() / "encoder-onnx").iterdir()] == [
        export_key(base_model_path(), 1)
    ]


def test_the_key_changes_with_the_layers_and_the_source_files(tmp_path):
    source = tmp_path / "encoder"
    shutil.copytree(base_model_path(), source)
    key = export_key(source, 1)
    assert export_key(source, 2) != key
    tokenizer = source / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text() + " ")
    assert export_key(source, 1) != key


def test_an_unwritable_cache_warns_and_exports_all_the_same(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SUPPORTBOT_CACHE", str(blocker))
    lines: list[str] = []
    cached_export(base_model_path(), tmp_path / "out", 1, lines.append)
    assert (tmp_path / "out" / "model.onnx").is_file()
    assert any(line.startswith("  warning: could not cache the encoder export") for line in lines)
