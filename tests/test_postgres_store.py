"""The store on both backends: SQLite and a real PostgreSQL (the session's server)."""

from __future__ import annotations

import pytest

from bot.store.conversation_log import SQLiteConversationStore, TurnRecord, open_database
from bot.store.postgres import PostgresDatabase, redact_url, translate_placeholders
from bot.store.schema_versions import latest_version, upgrade
from bot.store.state_store import SQLiteStateStore, set_handoff_journaled
from supportbot.cli import main
from supportbot.errors import SupportbotError


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str:
    """A fresh store location per backend; PostgreSQL upgraded to this release's schema."""
    if request.param == "sqlite":
        return str(tmp_path / "log.db")
    url = request.getfixturevalue("pg_url")
    db = PostgresDatabase(url)
    upgrade(db)
    db.close()
    return url


def _record(conversation: str, message: str, at: float) -> TurnRecord:
    return TurnRecord(
        conversation_id=conversation,
        channel="rest",
        message=message,
        intent="greet",
        confidence=0.9,
        out_of_scope=False,
        action="reply",
        responses=[{"text": f"re: {message}"}],
        retrieval_hits=None,
        moderation={"flagged": False},
        latency_ms=1.5,
        model_version="m1",
        created_at=at,
    )


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = %s AND b = %s"),
        ("VALUES (:id, :at)", "VALUES (%(id)s, %(at)s)"),
        ("SELECT '?', ':x', 'it''s ?' , ?", "SELECT '?', ':x', 'it''s ?' , %s"),
        ("SELECT 5 % 2, x::text, ?", "SELECT 5 %% 2, x::text, %s"),
        ('SELECT "we?ird" -- a ? comment\n, ?', 'SELECT "we?ird" -- a ? comment\n, %s'),
        ("LIKE 'nextval(%'", "LIKE 'nextval(%'"),
    ],
)
def test_placeholders_translate_outside_literals(sql, expected):
    assert translate_placeholders(sql) == expected


def test_redact_url_hides_the_password():
    assert redact_url("postgresql://bot:s3cret@db:5432/sb") == "postgresql://bot:***@db:5432/sb"
    assert redact_url("postgresql://bot@db/sb") == "postgresql://bot@db/sb"


async def test_log_history_feedback_on_both_backends(store_location):
    store = await SQLiteConversationStore.open(store_location)
    try:
        first = await store.log_turn(_record("c1", "hello 100% ?", 10.0))
        second = await store.log_turn(_record("c1", "again", 11.0))
        await store.log_turn(_record("c2", "other", 12.0))
        assert second == first + 1
        history = await store.history("c1")
        assert [turn["message"] for turn in history] == ["hello 100% ?", "again"]
        assert history[0]["responses"] == [{"text": "re: hello 100% ?"}]
        assert history[0]["out_of_scope"] is False
        assert await store.record_feedback("c1", second, 1) is True
        assert await store.record_feedback("c2", second, -1) is False
        assert await store.feedback("c1") == {second: 1}
    finally:
        await store.close()
    db = open_database(store_location)
    assert db.execute(
        "SELECT turn_count, last_seen_at FROM conversations WHERE id = ?", ["c1"]
    ).fetchone() == (2, 11.0)
    db.close()


async def test_state_and_handoff_journal_on_both_backends(store_location):
    log = await SQLiteConversationStore.open(store_location)
    state = SQLiteStateStore(store_location, writer=log)
    try:
        assert await state.load_state("c1") is None
        await state.save_state(
            "c1", {"conversation_id": "c1", "status": "bot", "slots": {"x": 1}, "updated_at": 5.0}
        )
        assert (await state.load_state("c1"))["slots"] == {"x": 1}
        start = await state.last_handoff_change()
        db = open_database(store_location)
        assert set_handoff_journaled(db, "c1", True) is True
        assert set_handoff_journaled(db, "nobody", True) is False
        db.close()
        changes = await state.handoff_changes_after(start)
        assert [(change.conversation_id, change.taken) for change in changes] == [("c1", True)]
        assert [row["conversation_id"] for row in await state.handed_off()] == ["c1"]
    finally:
        await state.close()
        await log.close()


def test_schema_behind_is_refused_with_the_command(pg_url):
    with pytest.raises(SupportbotError) as error:
        open_database(pg_url)
    assert str(error.value) == (
        f"{pg_url}: the database schema is at version 0, this release needs version "
        f"{latest_version()}; run `supportbot db upgrade --db URL` first"
    )


def test_db_status_and_upgrade(pg_url, capsys):
    assert main(["db", "status", "--db", pg_url]) == 1
    assert capsys.readouterr().out == (
        f"schema at version 0, this release needs {latest_version()}\n"
        "pending: run `supportbot db upgrade --db URL`\n"
    )
    assert main(["db", "upgrade", "--db", pg_url]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"schema at version {latest_version()}"
    assert main(["db", "upgrade", "--db", pg_url]) == 0
    assert capsys.readouterr().out == f"schema at version {latest_version()}\n"
    assert main(["db", "status", "--db", pg_url]) == 0


def test_db_upgrade_refuses_a_sqlite_path(tmp_path, capsys):
    assert main(["db", "upgrade", "--db", str(tmp_path / "x.db")]) == 1
    assert "not a postgresql:// URL" in capsys.readouterr().err
