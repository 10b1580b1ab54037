"""The `supportbot` command, run as a user runs it: real files, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from supportbot.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "supportbot.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_predict_writes_json_lines(tiny_model_dir, tmp_path, capsys):
    messages = tmp_path / "messages.txt"
    messages.write_text("where is my order?\nwhat's the weather on mars\n")
    assert main(["predict", "--model", str(tiny_model_dir), str(messages)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["where is my order?", "what's the weather on mars"]
    assert lines[0]["intent"] == "order_status" and lines[0]["out_of_scope"] is False
    assert lines[1]["out_of_scope"] is True and lines[1]["intent"] == "out_of_scope"
    for line in lines:
        assert set(line) >= {"text", "intent", "confidence", "out_of_scope", "ranking"}
        assert line["ranking"][0][1] >= line["ranking"][1][1]


def test_eval_writes_a_classification_report(tiny_model_dir, tmp_path, capsys):
    labelled = tmp_path / "test.csv"
    labelled.write_text(
        "text,label\nhas my parcel shipped,order_status\n"
        "do you take american express,payment_methods\n"
        "how can I send this back,return_item\n"
    )
    out = tmp_path / "results"
    assert main(["eval", "--model", str(tiny_model_dir), str(labelled), "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["examples"] == 3
    report = json.loads((out / "intent_report.json").read_text())
    assert {"accuracy", "macro avg", "weighted avg", "order_status"} <= set(report)
    assert set(report["order_status"]) == {"precision", "recall", "f1-score", "support"}
    assert isinstance(json.loads((out / "intent_errors.json").read_text()), list)


def test_missing_model_directory_is_an_error_not_a_traceback(tmp_path):
    messages = tmp_path / "m.txt"
    messages.write_text("hello\n")
    result = run("predict", "--model", str(tmp_path / "missing"), str(messages))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {tmp_path / 'missing'}: model directory not found "
        "(train one with `supportbot train`)"
    )


def test_validate_reports_file_and_line_and_fails(tmp_path):
    data = tmp_path / "labels.csv"
    data.write_text("text,label\nhello,greet\nhello,goodbye\n")
    result = run("data", "validate", str(data))
    assert result.returncode == 1
    assert f"{data}:3" in result.stdout or "labels.csv:3" in result.stdout
    assert "Traceback" not in result.stderr


def test_train_on_missing_path_fails_cleanly(tmp_path):
    result = run("train", str(tmp_path / "nothing"), "--out", str(tmp_path / "m"))
    assert result.returncode == 1
    assert "no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_train_with_bad_config_names_the_key(tmp_path):
    (tmp_path / "supportbot.yml").write_text(
        "name: x\ntraining:\n  epochs: 0\n  colour: red\n  ranker_ngram_turns: [3, 0]\n"
        "  precision: fp16\n"
    )
    result = run("train", str(tmp_path), "--out", str(tmp_path / "m"))
    assert result.returncode == 1
    assert "training.epochs: Input should be greater than 0" in result.stderr
    assert "training.colour: Extra inputs are not permitted" in result.stderr
    assert "training.ranker_ngram_turns.1: Input should be greater than or equal to 1" in (
        result.stderr
    )
    assert "training.precision: Input should be 'auto', 'fp32' or 'bf16'" in result.stderr


def test_init_refuses_a_non_empty_directory(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("x")
    assert main(["init", str(tmp_path)]) == 1
    assert str(tmp_path) in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["fly"])
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["serve", "--model", "m", "--port", "99999"], "argument --port: 99999 is not a port"),
        (["serve", "--model", "m", "--port", "http"], "argument --port: 'http' is not a port"),
        (["kb", "search", "--model", "m", "-k", "-3", "q"], "-k/--top-k: -3 is too small"),
        (["review", "--model", "m", "--size", "0"], "argument --size: 0 is too small"),
        (["discover", "--model", "m", "--min-size", "1"], "--min-size: 1 is too small"),
        (["discover", "--model", "m", "--distance", "nan"], "--distance: nan is out of range"),
    ],
)
def test_an_impossible_number_is_a_usage_error_naming_the_option(args, message, capsys):
    """Refused before any model loads: these once failed deep inside (a socket traceback)
    or quietly (`kb search -k -3` reported an empty knowledge base)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bare_labelled_csv_trains_a_classifier_only_model(tmp_path):
    rows = ["text,label"]
    for intent, phrases in {
        "check_balance": [
            "what is my balance",
            "how much money do I have",
            "show my balance",
            "balance please",
            "how much is in my account",
            "current balance?",
        ],
        "lost_card": [
            "I lost my card",
            "my card was stolen",
            "can't find my card",
            "card missing",
            "someone took my card",
            "I think I lost my debit card",
        ],
    }.items():
        rows += [f"{phrase},{intent}" for phrase in phrases]
    data = tmp_path / "labels.csv"
    data.write_text("\n".join(rows) + "\n")
    result = run("train", str(data), "--out", str(tmp_path / "model"))
    assert result.returncode == 0, result.stderr
    assert "warning: the data has no responses: this model is classifier-only" in result.stdout
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["responses"] is None and manifest["labels"] == ["check_balance", "lost_card"]


def test_train_on_malformed_data_names_file_and_line(tmp_path):
    data = tmp_path / "dialogues.jsonl"
    good = {"id": "a", "turns": [{"speaker": "customer", "text": "hi", "intent": "greet"}]}
    data.write_text(json.dumps(good) + "\n{broken\n")
    result = run("train", str(data), "--out", str(tmp_path / "model"))
    assert result.returncode == 1
    assert "dialogues.jsonl:2" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "model").exists()


def test_chat_answers_in_the_terminal(tiny_model_dir):
    result = subprocess.run(
        [sys.executable, "-m", "supportbot.cli", "chat", "--model", str(tiny_model_dir)],
        input="where is my order?\n\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    replies = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("you> bot> ") or line.startswith("bot> ")
    ]
    assert len(replies) == 2
    assert "It looks like your message was empty" in result.stdout


def test_predict_explain_shows_supporting_examples(tiny_model_dir, tmp_path, capsys):
    messages = tmp_path / "messages.txt"
    messages.write_text("where is my order?\n")
    assert main(["predict", "--model", str(tiny_model_dir), "--explain", str(messages)]) == 0
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    why = line["explanation"]
    assert why["out_of_scope_reason"] == "all checks passed"
    assert why["ranking"][0][0] == "order_status"
    assert all(e["intent"] == "order_status" for e in why["supporting_examples"])
    assert (
        why["supporting_examples"][0]["similarity"] >= why["supporting_examples"][-1]["similarity"]
    )


def test_an_unexpected_failure_is_reported_without_a_traceback(tmp_path, monkeypatch, capsys):
    import supportbot.cli.project

    def broken(args):
        raise ZeroDivisionError

    monkeypatch.setattr(supportbot.cli.project, "run_init", broken)
    assert main(["init", str(tmp_path / "x")]) == 70
    err = capsys.readouterr().err
    assert err.startswith("error: internal error (ZeroDivisionError); this is a bug")
    assert "Traceback" not in err
