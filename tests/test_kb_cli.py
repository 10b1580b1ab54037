"""`supportbot kb` end to end on a trained bot: real files, exit codes, messages, and a
running server that sees the change without a restart."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import aiohttp

from bot import messages
from retrieval.bot_model import BotModel
from retrieval.index import PassageIndex
from supportbot.cli import main
from supportbot.testing import live_server, write_file

CODES_MD = """# Terminal error codes

## Code E-4120
This code means the battery is below 5 percent; put the terminal on its charger.

## Code E-4201
This code means the terminal's clock is wrong; turn on automatic time in Settings.
"""
GIFT_CSV = """question,answer,url
Do gift cards expire?,"No, our gift cards never expire.",https://help.example.com/gift-cards
Can I use two gift cards on one order?,"Yes, up to three per order.",
"""


def kb(*args: str) -> int:
    return main(["kb", *args])


def json_out(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_add_list_search_update_remove(model_dir_copy: Path, here: Path, capsys):
    model = str(model_dir_copy)
    write_file(here, "docs/codes.md", CODES_MD)
    write_file(here, "docs/gift.csv", GIFT_CSV)
    assert kb("add", "--model", model, "docs/codes.md", "docs/gift.csv") == 0
    out = capsys.readouterr().out
    assert "added codes.md\nadded gift.csv\n" in out
    assert kb("list", "--model", model, "--json") == 0
    listing = json_out(capsys)
    added = {d["name"]: d for d in listing["documents"] if d["origin"] == "added"}
    assert {n: (d["format"], d["passages"]) for n, d in added.items()} == {
        "codes.md": ("markdown", 2),
        "gift.csv": ("csv", 2),
    }
    assert {d["origin"] for d in listing["documents"]} == {"added", "training"}

    assert kb("search", "--model", model, "do gift cards expire", "--json") == 0
    top = json_out(capsys)["hits"][0]
    assert (top["title"], top["url"]) == (
        "Do gift cards expire?",
        "https://help.example.com/gift-cards",
    )
    assert top["source"] == "docs/gift.csv:2"

    write_file(here, "docs/codes.md", CODES_MD.replace("5 percent", "10 percent"))
    assert kb("add", "--model", model, "docs/codes.md") == 0
    assert "replaced codes.md" in capsys.readouterr().out
    assert kb("search", "--model", model, "what does E-4120 mean", "--json") == 0
    assert "10 percent" in json_out(capsys)["hits"][0]["answer"]

    assert kb("remove", "--model", model, "codes.md") == 0
    assert "removed codes.md" in capsys.readouterr().out
    assert kb("search", "--model", model, "what does E-4120 mean", "--json") == 0
    assert all("E-4120" not in hit["title"] for hit in json_out(capsys)["hits"])
    BotModel.load(model_dir_copy)  # the manifest's checksums do not cover the kb store


def test_a_folder_adds_each_file_named_by_its_path_inside(model_dir_copy: Path, here, capsys):
    write_file(here, "help/codes.md", CODES_MD)
    write_file(here, "help/billing/gift.csv", GIFT_CSV)
    write_file(here, "help/logo.png", b"\x89PNG")
    assert kb("add", "--model", str(model_dir_copy), "help") == 0
    assert "added billing/gift.csv\nadded codes.md\n" in capsys.readouterr().out
    assert {"billing/gift.csv", "codes.md"} <= _names(model_dir_copy, capsys)


def test_list_prints_a_table(model_dir_copy: Path, capsys):
    assert kb("list", "--model", str(model_dir_copy)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "ORIGIN", "FORMAT", "PASSAGES", "ADDED"]
    assert lines[-1].startswith("knowledge base: 2 document(s), ")
    assert lines[-1].endswith("exact index, generation 1")


def test_missing_file_is_an_error_and_changes_nothing(model_dir_copy: Path, here: Path, capsys):
    write_file(here, "codes.md", CODES_MD)
    assert kb("add", "--model", str(model_dir_copy), "codes.md", "missing.md") == 1
    assert capsys.readouterr().err == "error: missing.md: no such file or directory\n"
    assert "codes.md" not in _names(model_dir_copy, capsys)


def test_malformed_csv_row_names_file_and_line(model_dir_copy: Path, here: Path, capsys):
    write_file(here, "faq.csv", "question,answer\nok?,fine\nbad,row,extra\n")
    assert kb("add", "--model", str(model_dir_copy), "faq.csv") == 1
    assert capsys.readouterr().err == (
        "error: faq.csv:3: expected 2 columns (question, answer), got 3\n"
    )
    assert "faq.csv" not in _names(model_dir_copy, capsys)


def test_csv_without_answer_column_and_unknown_format(model_dir_copy: Path, here: Path, capsys):
    write_file(here, "faq.csv", "question,reply\nok?,fine\n")
    write_file(here, "notes.pdf", b"%PDF")
    assert kb("add", "--model", str(model_dir_copy), "faq.csv") == 1
    assert capsys.readouterr().err == (
        "error: faq.csv:1: missing column(s) answer (the header has: question, reply)\n"
    )
    assert kb("add", "--model", str(model_dir_copy), "notes.pdf") == 1
    assert capsys.readouterr().err == (
        "error: notes.pdf: cannot read knowledge-base passages from this file; expected .md, "
        ".markdown, .txt or a question,answer .csv\n"
    )


def test_removing_an_unknown_document_is_an_error(model_dir_copy: Path, capsys):
    assert kb("remove", "--model", str(model_dir_copy), "nope.md") == 1
    assert capsys.readouterr().err == ("error: no document named 'nope.md' in the knowledge base\n")


def test_kb_on_a_missing_model_is_an_error(tmp_path: Path, capsys):
    assert kb("list", "--model", str(tmp_path / "none")) == 1
    assert "model directory not found" in capsys.readouterr().err


def _names(model_dir: Path, capsys) -> set[str]:
    capsys.readouterr()
    kb("list", "--model", str(model_dir), "--json")
    return {d["name"] for d in json_out(capsys)["documents"]}


async def test_running_server_sees_kb_changes_without_restart(model_dir_copy: Path, tmp_path):
    codes = write_file(tmp_path, "codes.md", CODES_MD)
    model = BotModel.load(model_dir_copy)
    body = {"sender": "erin", "message": "my terminal shows E-4120, what now?"}
    async with live_server(model, tmp_path / "log.db") as live, aiohttp.ClientSession() as http:

        async def ask() -> str:
            async with http.post(live.url + "/webhooks/rest/webhook", json=body) as response:
                return (await response.json())[0]["text"]

        assert "battery" not in await ask()
        assert await _kb_in_thread("add", "--model", str(model_dir_copy), str(codes)) == 0
        reply = await ask()
        assert reply.startswith(messages.RETRIEVAL_PREFIX.format(title="Code E-4120"))
        assert "put the terminal on its charger" in reply
        assert await _kb_in_thread("remove", "--model", str(model_dir_copy), "codes.md") == 0
        assert "battery" not in await ask()


async def _kb_in_thread(*args: str) -> int:
    """The CLI blocks (it encodes); run it off the loop that serves the requests."""
    return await asyncio.to_thread(kb, *args)


def test_searches_go_on_with_the_old_generation_while_a_new_one_loads(
    model_dir_copy: Path, tmp_path: Path, monkeypatch
):
    codes = write_file(tmp_path, "codes.md", CODES_MD)
    model = BotModel.load(model_dir_copy)
    index = model.index

    def titles() -> list[str]:
        [analysis] = model.analyse(["my terminal shows E-4120, what now?"])
        return [hit.passage.title for hit in analysis.hits]

    assert "Code E-4120" not in titles()
    assert kb("add", "--model", str(model_dir_copy), str(codes)) == 0
    loading, release = threading.Event(), threading.Event()
    real_load = PassageIndex._load

    def slow_load(store):
        loading.set()
        release.wait(30)
        return real_load(store)

    monkeypatch.setattr(PassageIndex, "_load", staticmethod(slow_load))
    loader = threading.Thread(target=index.sync)
    loader.start()
    try:
        assert loading.wait(30)
        started = time.monotonic()
        assert "Code E-4120" not in titles()  # the old generation, without waiting
        assert time.monotonic() - started < 5
    finally:
        release.set()
        loader.join(30)
    assert "Code E-4120" in titles()
