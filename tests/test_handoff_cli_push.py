"""`supportbot handoff take|release`, run in another process against the log file, reaches
the customer's open web chat widget on a running server within seconds; a change made
through the admin endpoint is still pushed once. Real server, real SQLite file, real CLI."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time

import aiohttp
import pytest
import sqlite_utils

from bot.handoff import events as handoff_events
from bot.server.settings import ServerSettings
from bot.store.state_store import JOURNAL_KEEP_SECONDS, open_state_db, set_handoff_journaled
from supportbot.cli import main
from supportbot.testing import live_server
from tests.test_handoff_push import RELEASED, TAKEN, first_turn, hello

TOKEN = "cli-push-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PUSH_SECONDS = 5
OLD_STATE_TABLE = """
CREATE TABLE conversation_state (conversation_id TEXT PRIMARY KEY, status TEXT NOT NULL
    DEFAULT 'bot', state TEXT NOT NULL, updated_at REAL NOT NULL);
INSERT INTO conversation_state VALUES ('ida', 'bot', '{"conversation_id": "ida"}', 0);
"""


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    """Poll ten times a second, so "not pushed twice" is checked over many polls."""
    monkeypatch.setattr(handoff_events, "JOURNAL_POLL_SECONDS", 0.1)


async def supportbot(*args: str) -> None:
    """The CLI in its own process, as an agent runs it next to the server."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "supportbot.cli", *args, stdout=asyncio.subprocess.DEVNULL
    )
    assert await asyncio.wait_for(process.wait(), timeout=60) == 0


async def open_conversation(session, url: str, db_path) -> tuple[object, str, str]:
    """A widget socket that has had one turn: (socket, session token, conversation id)."""
    ws = await session.ws_connect(url + "/webchat/ws")
    token = (await hello(ws))["token"]
    await first_turn(ws)
    [conversation] = [
        row["conversation_id"] for row in sqlite_utils.Database(db_path)["conversation_state"].rows
    ]
    return ws, token, conversation


async def nothing_more_is_pushed(ws) -> None:
    """After several polls, the next frame is the answer to a ping, not a repeated notice."""
    await asyncio.sleep(1)
    await ws.send_json({"type": "ping"})
    assert await ws.receive_json(timeout=5) == {"type": "pong"}


def journal_tasks() -> list[asyncio.Task]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "handoff-journal"]


async def test_cli_take_and_release_reach_the_open_widget(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        ws, _, conversation = await open_conversation(session, live.url, db)
        assert len(journal_tasks()) == 1

        await supportbot("handoff", "take", conversation, "--db", str(db))
        assert await ws.receive_json(timeout=PUSH_SECONDS) == TAKEN
        await supportbot("handoff", "release", conversation, "--db", str(db))
        assert await ws.receive_json(timeout=PUSH_SECONDS) == RELEASED
        await nothing_more_is_pushed(ws)
        await ws.close()
    assert journal_tasks() == []


async def test_an_admin_change_is_pushed_once_and_not_again_by_the_watcher(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    settings = ServerSettings(admin_token=TOKEN)
    async with live_server(tiny_model, db, settings) as live, aiohttp.ClientSession() as session:
        ws, _, conversation = await open_conversation(session, live.url, db)

        endpoint = f"{live.url}/admin/conversations/{conversation}/handoff"
        async with session.post(endpoint, json={"action": "take"}, headers=AUTH) as response:
            assert response.status == 200
        assert await ws.receive_json(timeout=1) == TAKEN
        await nothing_more_is_pushed(ws)
        assert (
            await asyncio.to_thread(main, ["handoff", "release", conversation, "--db", str(db)])
            == 0
        )
        assert await ws.receive_json(timeout=PUSH_SECONDS) == RELEASED
        await nothing_more_is_pushed(ws)
        await ws.close()
    journal = sqlite_utils.Database(db)["handoff_changes"]
    assert [(row["conversation_id"], row["taken"]) for row in journal.rows] == [(conversation, 0)]


async def test_an_old_log_file_without_the_journal_works_for_cli_and_server(
    tiny_model, tmp_path, capsys
):
    db = tmp_path / "log.db"
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        ws, token, conversation = await open_conversation(session, live.url, db)
        await ws.close()
    sqlite_utils.Database(db)["handoff_changes"].drop()

    assert main(["handoff", "take", conversation, "--db", str(db)]) == 0
    assert f"conversation {conversation} is now answered by a person" in capsys.readouterr().out
    assert [row["taken"] for row in sqlite_utils.Database(db)["handoff_changes"].rows] == [1]
    sqlite_utils.Database(db)["handoff_changes"].drop()

    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        async with session.ws_connect(live.url + "/webchat/ws") as ws:
            assert (await hello(ws, token))["state"]["handed_off"] is True
            await supportbot("handoff", "release", conversation, "--db", str(db))
            assert await ws.receive_json(timeout=PUSH_SECONDS) == RELEASED


async def test_a_journal_that_vanishes_while_serving_is_logged_and_watched_again(
    tiny_model, tmp_path, caplog
):
    db = tmp_path / "log.db"
    async with live_server(tiny_model, db) as live, aiohttp.ClientSession() as session:
        ws, _, conversation = await open_conversation(session, live.url, db)
        sqlite_utils.Database(db)["handoff_changes"].drop()
        await asyncio.sleep(0.5)
        assert "handoff journal not read (no such table: handoff_changes); retrying" in (
            caplog.text
        )

        await supportbot("handoff", "take", conversation, "--db", str(db))
        assert await ws.receive_json(timeout=PUSH_SECONDS) == TAKEN
        await ws.close()


def test_a_cli_change_deletes_journal_rows_older_than_a_day(tmp_path):
    db_path = tmp_path / "log.db"
    db = sqlite_utils.Database(db_path)
    db.executescript(OLD_STATE_TABLE)
    assert main(["handoff", "take", "ida", "--db", str(db_path)]) == 0
    stale = time.time() - JOURNAL_KEEP_SECONDS - 60
    db.execute("UPDATE handoff_changes SET changed_at = ?", [stale])
    db.conn.commit()

    assert main(["handoff", "release", "ida", "--db", str(db_path)]) == 0
    assert [(row["id"], row["taken"]) for row in db["handoff_changes"].rows] == [(2, 0)]


def test_the_cli_change_and_its_journal_row_commit_together(tmp_path):
    db_path = tmp_path / "log.db"
    db = sqlite_utils.Database(db_path)
    db.executescript(
        OLD_STATE_TABLE + "CREATE TABLE handoff_changes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " conversation_id TEXT NOT NULL, taken INTEGER NOT NULL CHECK (taken = 0),"
        " changed_at REAL NOT NULL);"
    )
    cli_side = open_state_db(db_path)
    with pytest.raises(sqlite3.IntegrityError):
        set_handoff_journaled(cli_side, "ida", take=True)
    cli_side.conn.close()
    assert db.execute("SELECT status FROM conversation_state").fetchone() == ("bot",)
