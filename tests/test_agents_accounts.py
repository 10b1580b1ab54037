"""Agent accounts and the handoff queue in the real SQLite file: `supportbot agents`,
secrets kept only as argon2 hashes, one owner per conversation, the audit rows."""

from __future__ import annotations

import asyncio

import sqlite_utils

from bot.agents import accounts, queue
from bot.agents.store import AgentStore
from bot.agents.tables import audit_rows, open_agent_db
from supportbot.cli import main


def added_secret(capsys, db, name: str, *extra: str) -> str:
    assert main(["agents", "add", name, "--db", str(db), *extra]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_agents_add_prints_a_one_time_secret_stored_only_as_an_argon2_hash(tmp_path, capsys):
    db = tmp_path / "log.db"
    secret = added_secret(capsys, db, "dana", "--role", "admin", "--display-name", "Dana S.")
    [row] = sqlite_utils.Database(db)["agent_accounts"].rows
    assert row["secret_hash"].startswith("$argon2id$")
    assert secret not in row["secret_hash"] and len(secret) >= 32
    agent = accounts.verify_secret(open_agent_db(db), "dana", secret)
    assert agent == accounts.Agent("dana", "Dana S.", "admin", False)
    assert accounts.verify_secret(open_agent_db(db), "dana", secret + "x") is None

    assert main(["agents", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out == "dana\tDana S.\tadmin\tactive\n"
    assert main(["agents", "disable", "dana", "--db", str(db)]) == 0
    assert main(["agents", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "dana\tDana S.\tadmin\tdisabled"
    actions = [row["action"] for row in audit_rows(open_agent_db(db))]
    assert actions == ["agent_added", "agent_disabled"]


def test_agents_cli_refuses_bad_names_duplicates_and_unknown_agents(tmp_path, capsys):
    db = tmp_path / "log.db"
    added_secret(capsys, db, "sam")
    assert main(["agents", "add", "sam", "--db", str(db)]) == 1
    assert capsys.readouterr().err == "error: agent 'sam' already exists\n"
    assert main(["agents", "add", "Sam Smith", "--db", str(db)]) == 1
    assert capsys.readouterr().err == (
        "error: agent name 'Sam Smith': expected 1-40 lower-case letters, digits, '-' or '_'\n"
    )
    assert main(["agents", "disable", "nobody", "--db", str(db)]) == 1
    assert capsys.readouterr().err == f"error: {db}: no agent 'nobody'\n"


async def test_two_agents_claiming_at_once_exactly_one_wins(tmp_path):
    first, second = (
        await AgentStore.open(tmp_path / "log.db"),
        await AgentStore.open(tmp_path / "log.db"),
    )
    try:
        summary = {"intents": ["order_status"], "slots": {}, "last_customer_message": "hi"}
        assert await first.call(queue.enqueue, "c1", "webchat", "customer asked", summary) == 1
        assert await first.call(queue.enqueue, "c2", "rest", "customer asked", summary) == 2
        claims = await asyncio.gather(
            *(
                store.call(queue.claim, "c1", name)
                for store, name in [(first, "dana"), (second, "sam")] * 5
            )
        )
        assert claims.count(True) == 1
        owner = (await first.call(queue.entry, "c1"))["agent"]
        assert owner == ("dana" if claims[0] else "sam")
        assert [e["conversation_id"] for e in await second.call(queue.open_entries)] == ["c2", "c1"]
        assert await first.call(queue.close, "c1", owner, "released") is not None
        assert await first.call(queue.close, "c1", owner, "released") is None
        [claim, release] = await first.call(audit_rows, "c1")
        assert (claim["agent"], claim["action"], release["action"]) == (owner, "claim", "released")
    finally:
        await first.close()
        await second.close()
