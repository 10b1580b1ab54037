"""Group commit: turns and dialogue states queued together share one transaction, and
one failing write does not take the others with it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store.conversation_log import SQLiteConversationStore, open_database
from bot.store.group_commit import GroupCommit
from bot.store.state_store import read_state, write_state
from tests.test_store import make_turn


@pytest.fixture
async def store(tmp_path: Path):
    store = SQLiteConversationStore(tmp_path / "log.db")
    yield store
    await store.close()


async def hold_writer(store: SQLiteConversationStore) -> threading.Event:
    """Occupy the store's thread until the returned event is set, so writes queue up."""
    release, started = threading.Event(), threading.Event()

    def wait(db) -> None:
        started.set()
        assert release.wait(10)

    asyncio.ensure_future(store.call(wait))
    assert await asyncio.to_thread(started.wait, 10)
    return release


def fail(db, message: str) -> None:
    db.execute("INSERT INTO turns (conversation_id) VALUES (NULL)")  # violates NOT NULL
    raise AssertionError(message)  # not reached


async def test_queued_writes_commit_together_and_a_failure_stays_its_own(store, tmp_path):
    await store.write(lambda db: db.executescript(
        "CREATE TABLE IF NOT EXISTS conversation_state (conversation_id TEXT PRIMARY KEY, "
        "status TEXT NOT NULL DEFAULT 'bot', state TEXT NOT NULL, updated_at REAL NOT NULL)"
    ))  # fmt: skip
    before = store._writes.commits
    release = await hold_writer(store)
    writes = [
        store.log_turn(make_turn("c1", "first", 1.0)),
        store.write(write_state, "c1", {"status": "bot", "updated_at": 1.0}),
        store.write(fail, "never"),
        store.log_turn(make_turn("c2", "second", 2.0)),
    ]
    tasks = [asyncio.ensure_future(w) for w in writes]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[0], int) and isinstance(results[3], int)
    assert results[1] is None
    assert "NOT NULL" in str(results[2])
    assert store._writes.commits == before + 1  # the four queued writes: one transaction
    db = open_database(tmp_path / "log.db", read_only=True)
    assert [r[0] for r in db.execute("SELECT message FROM turns ORDER BY id")] == [
        "first",
        "second",
    ]
    assert read_state(db, "c1") == {"status": "bot", "updated_at": 1.0}


async def test_many_concurrent_turns_share_few_commits_and_all_are_read_back(store):
    before = store._writes.commits
    await asyncio.gather(*(store.log_turn(make_turn(f"c{i}", f"m{i}", i)) for i in range(50)))
    assert store._writes.commits - before < 50
    for i in range(50):
        assert [t["message"] for t in await store.history(f"c{i}")] == [f"m{i}"]


async def test_writes_after_close_are_refused(store):
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.write(write_state, "c", {})


async def test_a_write_to_a_shut_executor_fails_at_once_and_leaves_nothing_queued(tmp_path):
    executor = ThreadPoolExecutor(max_workers=1)
    executor.shutdown()
    commits = GroupCommit(open_database(tmp_path / "log.db"), executor)
    with pytest.raises(RuntimeError, match="after shutdown"):
        await asyncio.wait_for(commits.write(write_state, "c1", {"slots": {}}), 5)
    assert commits._batches.idle
