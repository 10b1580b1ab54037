"""`supportbot predict` and `supportbot chat` given a model registry root, as `serve` is:
they use its current version, and fail with a clear error when none was promoted."""

from __future__ import annotations

import io
import json

import pytest

from retrieval.model_registry import ModelRegistry
from supportbot.cli import main


@pytest.fixture
def registry_root(model_dir_copy, tmp_path):
    """A registry holding the tiny bot as its current (and only) version."""
    registry = ModelRegistry(tmp_path / "models")
    registry.promote(registry.add(model_dir_copy))
    return registry.root


def no_current_version(root) -> str:
    return (
        f"error: {root}: no current model version (promote one with `supportbot models promote`)\n"
    )


def test_predict_uses_the_registry_current_version(registry_root, tmp_path, capsys):
    messages = tmp_path / "messages.txt"
    messages.write_text("where is my order?\n")
    assert main(["predict", "--model", str(registry_root), str(messages)]) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["text"], line["intent"]) == ("where is my order?", "order_status")


def test_chat_uses_the_registry_current_version(registry_root, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("where is my order?\n"))
    assert main(["chat", "--model", str(registry_root)]) == 0
    out = capsys.readouterr().out
    version = ModelRegistry(registry_root).current_version()
    assert out.startswith(f"chatting with {version}; Ctrl-D to quit\n")
    assert out.count("bot> ") == 1


@pytest.mark.parametrize("command", ["predict", "chat"])
def test_a_registry_without_a_current_version_is_a_clear_error(command, tmp_path, capsys):
    root = tmp_path / "models"
    (root / "versions").mkdir(parents=True)
    messages = tmp_path / "messages.txt"
    messages.write_text("hello\n")
    argv = [command, "--model", str(root)] + ([str(messages)] if command == "predict" else [])
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err == no_current_version(root)
    assert captured.out == ""
