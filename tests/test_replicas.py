"""Replicas on one PostgreSQL (bot/replicas/): the cross-replica conversation lock, the
LISTEN/NOTIFY bus, shared counters, and two servers following one model registry. Each
"replica" here has its own pool or connection on a real PostgreSQL server."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import psycopg
import pytest

from bot.channels.base import InboundMessage
from bot.dialogue.manager import DialogueManager
from bot.replicas.conversation_lock import ConversationBusy, SharedConversationLock
from bot.replicas.counters import SharedWindowCounter, ensure_counter_table
from bot.replicas.notify import NotificationListener, publish
from bot.replicas.pool import open_replica_pool
from bot.server.model_swap import ModelHolder
from bot.server.settings import ServerSettings
from supportbot.testing import live_server
from tests.test_model_swap import make_version


@pytest.fixture
async def two_pools(pg_url):
    pools = [await open_replica_pool(pg_url, max_size=4) for _ in range(2)]
    yield pools
    for pool in pools:
        await pool.close()


async def test_turns_of_one_conversation_never_overlap_across_replicas(two_pools):
    running: dict[str, int] = {}
    order: list[tuple[str, str]] = []

    async def record(turn, next_stage) -> None:
        sender = turn.message.sender_id
        running[sender] = running.get(sender, 0) + 1
        assert running[sender] == 1, f"two turns of {sender} at once"
        await asyncio.sleep(0.01)
        order.append((sender, turn.message.text))
        running[sender] -= 1
        await next_stage()

    replicas = [DialogueManager([record], SharedConversationLock(pool)) for pool in two_pools]
    messages = [
        InboundMessage(sender_id=f"c{c}", text=f"m{i}", channel="rest")
        for i in range(8)
        for c in range(3)
    ]
    await asyncio.gather(*(replicas[i % 2].handle(message) for i, message in enumerate(messages)))
    assert len(order) == 24
    assert sorted(order) == sorted((m.sender_id, m.text) for m in messages)


async def test_a_conversation_held_too_long_is_busy_and_retryable(two_pools):
    holder = SharedConversationLock(two_pools[0])
    waiter = SharedConversationLock(two_pools[1], wait_seconds=0.2)
    async with holder.hold("c1"):
        with pytest.raises(ConversationBusy) as busy:
            async with waiter.hold("c1"):
                pass
        async with waiter.hold("c2"):  # another conversation is not blocked
            pass
    assert str(busy.value) == (
        "conversation is busy on another replica for over 0.2 s; retry the message"
    )
    async with waiter.hold("c1"):  # released: the next turn runs
        pass


async def test_a_dead_replicas_lock_is_released_by_postgres(pg_url, two_pools):
    dying = await psycopg.AsyncConnection.connect(pg_url, autocommit=True)
    await dying.execute("SELECT pg_advisory_lock(hashtextextended('c1', 0))")
    pid = dying.info.backend_pid
    waiter = SharedConversationLock(two_pools[1], wait_seconds=0.3)
    with pytest.raises(ConversationBusy):
        async with waiter.hold("c1"):
            pass
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    started = time.monotonic()
    async with waiter.hold("c1"):
        pass
    assert time.monotonic() - started < 0.3
    await dying.close()


async def test_a_notice_reaches_a_listener_on_another_connection(pg_url, two_pools):
    heard: list[str] = []
    arrived = asyncio.Event()

    async def on_notice(payload: str) -> None:
        heard.append(payload)
        if len(heard) == 2:
            arrived.set()

    listener = NotificationListener(pg_url, "supportbot_delivery", on_notice)
    await listener.start()
    try:
        async with two_pools[0].connection() as conn:
            await publish(conn, "supportbot_delivery", "conversation:c1")
            async with conn.transaction():  # a NOTIFY in a rolled-back write is never heard
                await publish(conn, "supportbot_delivery", "rolled-back")
                raise psycopg.Rollback()
        async with two_pools[1].connection() as conn:
            await publish(conn, "supportbot_delivery", "event:7")
        await asyncio.wait_for(arrived.wait(), 5)
    finally:
        await listener.stop()
    assert heard == ["conversation:c1", "event:7"]


async def test_a_limit_holds_across_replicas(two_pools):
    await ensure_counter_table(two_pools[0])
    counters = [SharedWindowCounter(pool, "rate", window_seconds=60) for pool in two_pools]
    now = 1_000_000.0
    allowed = await asyncio.gather(
        *(counters[i % 2].allow("sender-1", limit=6, now=now) for i in range(10))
    )
    assert allowed.count(True) == 6
    assert await counters[1].hit("sender-2", now=now) == 1  # keys are separate
    assert await counters[0].hit("sender-1", now=now + 60) == 1  # a new window
    assert await counters[1].prune(now=now + 60) == 2


async def test_two_replicas_follow_one_registry_and_say_who_they_are(
    tiny_model_dir, tiny_model, tmp_path, monkeypatch
):
    from retrieval.model_registry import ModelRegistry

    root = tmp_path / "models"
    for version in ("v1", "v2"):
        make_version(tiny_model_dir, root, version)
    registry = ModelRegistry(root)
    registry.promote("v1")
    monkeypatch.setenv("SUPPORTBOT_REPLICA", "replica-a")
    holders = [ModelHolder(tiny_model, registry, poll_seconds=0.2) for _ in range(2)]
    settings = ServerSettings()
    async with (
        live_server(holders[0], tmp_path / "a.db", settings) as a,  # type: ignore[arg-type]
        live_server(holders[1], tmp_path / "b.db", settings) as b,  # type: ignore[arg-type]
        aiohttp.ClientSession() as session,
    ):
        registry.promote("v2")
        deadline = time.monotonic() + 30
        while {h.loaded for h in holders} != {"v2"}:
            assert time.monotonic() < deadline, "a replica did not follow the promotion"
            await asyncio.sleep(0.1)
        for live in (a, b):
            async with session.get(live.url + "/version") as response:
                body = await response.json()
            assert (body["model"], body["replica"]) == ("v2", "replica-a")


async def test_a_retry_storm_on_two_replicas_is_claimed_once_per_event(two_pools):
    from bot.replicas.event_claims import claim_event, ensure_claims_table

    await ensure_claims_table(two_pools[0])
    deliveries = [
        claim_event(two_pools[replica], "slack", f"Ev{event}", f"replica-{replica}")
        for event in range(5)
        for _attempt in range(4)
        for replica in range(2)
    ]
    claimed = await asyncio.gather(*deliveries)
    assert claimed.count(True) == 5
    for event in range(5):
        assert claimed[event * 8 : event * 8 + 8].count(True) == 1


async def test_a_busy_conversation_is_a_retryable_503():
    from aiohttp.test_utils import make_mocked_request

    from bot.server.http_errors import json_errors

    async def handler(request):
        raise ConversationBusy("conversation is busy on another replica for over 10 s")

    response = await json_errors(make_mocked_request("POST", "/webhooks/rest/webhook"), handler)
    assert (response.status, response.headers["Retry-After"]) == (503, "1")
    assert response.text == (
        '{"error": "conversation is busy on another replica for over 10 s", "status": 503}'
    )


async def test_two_servers_on_one_postgres_log_every_turn_once_and_in_order(
    tiny_model, pg_url, tmp_path
):
    from bot.store.postgres import PostgresDatabase
    from bot.store.schema_versions import upgrade

    db = PostgresDatabase(pg_url)
    upgrade(db)
    db.close()
    settings = ServerSettings()
    texts = ["where is my order?", "hi", "my card was declined", "I want to return my shoes"]

    async def conversation(session, urls, index: int) -> None:
        for turn, text in enumerate(texts):  # each turn to the other replica
            url = urls[(index + turn) % 2]
            payload = {"sender": f"c{index}", "message": f"{text} #{turn}"}
            async with session.post(url + "/webhooks/rest/webhook", json=payload) as response:
                assert response.status == 200, await response.text()

    async def burst(session, urls) -> list[int]:  # one conversation, both replicas at once
        async def one(i: int) -> int:
            payload = {"sender": "burst", "message": f"hi #{i}"}
            async with session.post(urls[i % 2] + "/webhooks/rest/webhook", json=payload) as r:
                return r.status

        return list(await asyncio.gather(*(one(i) for i in range(6))))

    async with (
        live_server(tiny_model, pg_url, settings) as a,  # type: ignore[arg-type]
        live_server(tiny_model, pg_url, settings) as b,  # type: ignore[arg-type]
        aiohttp.ClientSession() as session,
    ):
        urls = [a.url, b.url]
        results = await asyncio.gather(
            burst(session, urls), *(conversation(session, urls, i) for i in range(6))
        )
    assert results[0] == [200] * 6
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT c.id, t.message FROM turns t JOIN conversations c"
            " ON c.id = t.conversation_id ORDER BY t.id"
        ).fetchall()
    by_conversation: dict[str, list[str]] = {}
    for conversation_id, message in rows:
        by_conversation.setdefault(conversation_id, []).append(message)
    assert len(rows) == 6 * 4 + 6
    ordered = [v for v in by_conversation.values() if len(v) == 4]
    assert len(ordered) == 6
    for messages in ordered:
        assert messages == [f"{text} #{turn}" for turn, text in enumerate(texts)]
    bursts = [v for v in by_conversation.values() if len(v) == 6]
    assert len(bursts) == 1 and sorted(bursts[0]) == sorted(f"hi #{i}" for i in range(6))
