"""Privacy operations on the conversation log: forget a customer, apply retention, opt a
conversation out of retraining, export training rows. Each writes an audit row.

Everything derived from a conversation that leaves the `turns` table (training rows,
retrieval-index entries) is registered in `derived_rows` with its conversation id, so
`forget` can find it. Entries that live outside the database (a vector index) are removed
through an `IndexEraser`, before the database rows that point at them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import sqlite_utils

from bot.background_tasks import stop_task
from bot.store.postgres import PostgresDatabase
from bot.store.pseudonyms import keyed_hash
from supportbot.config.privacy import PrivacyConfig
from supportbot.turn_actions import NOT_FOR_TRAINING

log = logging.getLogger(__name__)
T = TypeVar("T")

ANONYMISED = "<ANONYMISED>"
# Moderation flags that keep a turn out of training rows: abuse aimed at someone, attempts
# to instruct the bot, floods and anything the bot refused to handle.
EXCLUDED_FLAGS = ("abuse:", "injection:", "repeat:", "input:")


@runtime_checkable
class MaintainableStore(Protocol):
    """A conversation store that can run maintenance on its own connection."""

    async def call(self, func: Callable[..., T], *args: Any) -> T: ...


class IndexEraser(Protocol):
    """Removes entries from an index that lives outside the database (e.g. a FAISS index of
    past conversations); `refs` are the ids registered in `derived_rows`."""

    async def remove(self, refs: Sequence[str]) -> int: ...


@dataclass(frozen=True)
class ForgetReport:
    """What `forget_sender` removed; the audit row holds the same counts."""

    conversations: int
    turns: int
    training_rows: int
    retrieval_entries: int
    audit_id: int

    def to_json(self) -> dict:
        return asdict(self)


def subject_hash(sender_id: str) -> str:
    """The audit log names a customer by a keyed hash (bot/store/pseudonyms.py), so it does
    not itself keep their id, and a guessed id cannot be checked against it without the salt."""
    return "hmac-sha256:" + keyed_hash(sender_id)


def _audit(db: sqlite_utils.Database, actor: str, action: str, subject: str | None, **details):
    cursor = db.execute(
        "INSERT INTO audit_log (at, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
        [time.time(), actor, action, subject, json.dumps(details, sort_keys=True)],
    )
    return int(cursor.lastrowid or 0)


def _sender_conversations(db: sqlite_utils.Database, sender_id: str) -> list[str]:
    rows = db.execute(
        "SELECT id FROM conversations WHERE sender_id = ? OR id = ?", [sender_id, sender_id]
    ).fetchall()
    return sorted({row[0] for row in rows})


def _refs(db: sqlite_utils.Database, conversations: list[str], kind: str) -> list[str]:
    marks = ",".join("?" * len(conversations))
    query = f"SELECT ref FROM derived_rows WHERE kind = ? AND conversation_id IN ({marks})"
    return [row[0] for row in db.execute(query, [kind, *conversations]).fetchall()]


def _delete_sender(
    db: sqlite_utils.Database, sender_id: str, actor: str, erased_refs: int
) -> ForgetReport:
    conversations = _sender_conversations(db, sender_id)
    marks = ",".join("?" * len(conversations))
    with db.atomic():
        counts = {"conversations": 0, "turns": 0, "training_rows": 0, "retrieval_entries": 0}
        if conversations:
            where = f"conversation_id IN ({marks})"
            for kind, key in (("training", "training_rows"), ("retrieval", "retrieval_entries")):
                sql = f"DELETE FROM derived_rows WHERE kind = ? AND {where}"
                counts[key] = db.execute(sql, [kind, *conversations]).rowcount
            counts["turns"] = db.execute(f"DELETE FROM turns WHERE {where}", conversations).rowcount
            _delete_conversation_rows(db, conversations)
            sql = f"DELETE FROM conversations WHERE id IN ({marks})"
            counts["conversations"] = db.execute(sql, conversations).rowcount
        audit_id = _audit(
            db, actor, "forget", subject_hash(sender_id), **counts, index_erased=erased_refs
        )
    _checkpoint(db)
    return ForgetReport(**counts, audit_id=audit_id)


CONVERSATION_TABLES = (
    ("conversation_state", "conversation_id"),
    ("webchat_sessions", "conversation_id"),
    ("agent_queue", "conversation_id"),
    ("agent_notes", "conversation_id"),
    ("agent_surveys", "conversation_id"),
)
"""Rows other parts of the bot keep per conversation in the same file (dialogue state, web
chat session tokens, the handoff queue, agents' notes and surveys): gone with the
conversation, so an old token opens nothing. The agents' audit rows stay, naming the
conversation by hash from then on."""


def _delete_conversation_rows(db: sqlite_utils.Database, conversations: list[str]) -> None:
    marks = ",".join("?" * len(conversations))
    for table, column in CONVERSATION_TABLES:
        if db[table].exists():
            db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", conversations)
    if db["agent_audit"].exists():
        for conversation in conversations:
            db.execute(
                "UPDATE agent_audit SET conversation_id = ? WHERE conversation_id = ?",
                [subject_hash(conversation), conversation],
            )


VACUUMED_TABLES = ("turns", "conversations", "derived_rows", "feedback", "audit_log") + tuple(
    table for table, _ in CONVERSATION_TABLES
)


def _checkpoint(db: Any) -> None:
    """Copy the WAL into the main file and truncate it, so deleted pages leave no trace.
    PostgreSQL: VACUUM the tables deletions touch, so their dead tuples' space is marked
    free for reuse (docs/privacy.md says what that does and does not promise)."""
    if isinstance(db, PostgresDatabase):
        present = set(db.table_names())
        for table in VACUUMED_TABLES:
            if table in present:
                db.execute(f"VACUUM {table}")
        return
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def forget_sender(
    store: MaintainableStore,
    sender_id: str,
    actor: str,
    erasers: Iterable[IndexEraser] = (),
) -> ForgetReport:
    """Delete a customer's conversations, turns and derived rows, erase their entries from
    external indexes first, and record the deletion in the audit log."""
    conversations = await store.call(_sender_conversations, sender_id)
    refs = await store.call(_refs, conversations, "retrieval") if conversations else []
    erased = 0
    for eraser in erasers:
        erased += await eraser.remove(refs) if refs else 0
    return await store.call(_delete_sender, sender_id, actor, erased)


def _set_opt_out(db: sqlite_utils.Database, conversation_id: str, actor: str) -> bool:
    with db.atomic():
        found = db.execute(
            "UPDATE conversations SET opt_out = 1 WHERE id = ?", [conversation_id]
        ).rowcount
        removed = db.execute(
            "DELETE FROM derived_rows WHERE kind = 'training' AND conversation_id = ?",
            [conversation_id],
        ).rowcount
        if found:
            _audit(db, actor, "opt_out", subject_hash(conversation_id), training_rows=removed)
    return bool(found)


async def opt_out(store: MaintainableStore, conversation_id: str, actor: str) -> bool:
    """Keep a conversation out of retraining for good (and drop rows already exported);
    False if the conversation is not in the log."""
    return await store.call(_set_opt_out, conversation_id, actor)


def _apply_retention(
    db: sqlite_utils.Database, cutoff: float, mode: Literal["delete", "anonymise"]
) -> int:
    with db.atomic():
        old = db.execute(
            "SELECT DISTINCT conversation_id FROM turns WHERE created_at < ?", [cutoff]
        )
        conversations = [row[0] for row in old.fetchall()]
        if not conversations:
            return 0
        if mode == "delete":
            count = db.execute("DELETE FROM turns WHERE created_at < ?", [cutoff]).rowcount
        else:
            moved = [_anonymise(db, conversation, cutoff) for conversation in conversations]
            count = sum(n for _, n in moved)
            conversations += [anonymous for anonymous, _ in moved]
        db.execute("DELETE FROM derived_rows WHERE created_at < ?", [cutoff])
        if db["agent_notes"].exists():
            db.execute("DELETE FROM agent_notes WHERE created_at < ?", [cutoff])
        _recount(db, conversations)
        _audit(db, "retention", mode, None, turns=count, cutoff=cutoff)
    _checkpoint(db)
    return count


def _anonymise(db: sqlite_utils.Database, conversation_id: str, cutoff: float) -> tuple[str, int]:
    """Old turns move to a fresh random conversation id and lose their text; intent, action,
    moderation verdict and latency stay for statistics."""
    anonymous = f"anon-{uuid.uuid4().hex}"
    db.execute(
        "INSERT INTO conversations (id, channel, started_at, last_seen_at, turn_count, opt_out)"
        " SELECT ?, channel, started_at, last_seen_at, 0, 1 FROM conversations WHERE id = ?",
        [anonymous, conversation_id],
    )
    moved = db.execute(
        "UPDATE turns SET conversation_id = ?, message = ?, response = NULL, responses = '[]',"
        " metadata = '{}' WHERE conversation_id = ? AND created_at < ?",
        [anonymous, ANONYMISED, conversation_id, cutoff],
    ).rowcount
    return anonymous, moved


def _recount(db: sqlite_utils.Database, conversations: list[str]) -> None:
    """Turn counts after a retention run; conversations left without turns go."""
    for conversation in conversations:
        db.execute(
            "UPDATE conversations SET turn_count ="
            " (SELECT count(*) FROM turns WHERE conversation_id = ?) WHERE id = ?",
            [conversation, conversation],
        )
        db.execute("DELETE FROM conversations WHERE id = ? AND turn_count = 0", [conversation])


async def apply_retention(
    store: MaintainableStore, max_age_days: float, mode: Literal["delete", "anonymise"], now=None
) -> int:
    """Delete or anonymise turns older than `max_age_days`; returns how many."""
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    return await store.call(_apply_retention, cutoff, mode)


def retention_context(config: PrivacyConfig, store: object) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup context running retention every interval while the app runs, and
    awaiting the task on shutdown."""

    async def lifecycle(app) -> AsyncIterator[None]:
        days = config.retention_days
        if days is None or not isinstance(store, MaintainableStore):
            yield
            return
        task = asyncio.get_running_loop().create_task(_retention_loop(config, days, store))
        yield
        await stop_task(task)

    return lifecycle


async def _retention_loop(config: PrivacyConfig, days: float, store: MaintainableStore) -> None:
    while True:
        try:
            removed = await apply_retention(store, days, config.retention_mode)
            if removed:
                log.info("retention: %s %d old turns", config.retention_mode, removed)
        except Exception:
            log.exception("retention run failed; retrying next interval")
        await asyncio.sleep(config.retention_interval_seconds)


def _export_training(db: sqlite_utils.Database, since: float) -> list[dict]:
    rows = db.query(
        "SELECT t.id, t.conversation_id, t.message, t.intent, t.confidence, t.action,"
        " t.moderation, t.created_at FROM turns t JOIN conversations c"
        " ON c.id = t.conversation_id WHERE c.opt_out = 0 AND t.created_at >= ?"
        " AND t.message IS NOT NULL AND t.message != '' ORDER BY t.id",
        [since],
    )
    exported = [row for row in rows if _trainable(row)]
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO derived_rows (conversation_id, kind, ref, text, label,"
            " created_at) VALUES (?, 'training', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (r["conversation_id"], str(r["id"]), r["message"], r["intent"], r["created_at"])
                for r in exported
            ],
        )
    return [
        {
            "turn_id": r["id"],
            "conversation_id": r["conversation_id"],
            "text": r["message"],
            "intent": r["intent"],
            "confidence": r["confidence"],
        }
        for r in exported
    ]


def _trainable(row: dict) -> bool:
    if row["action"] in NOT_FOR_TRAINING:
        return False
    flags = json.loads(row["moderation"] or "{}").get("flags", [])
    return not any(flag.startswith(EXCLUDED_FLAGS) for flag in flags)


async def export_training_rows(store: MaintainableStore, since: float = 0.0) -> list[dict]:
    """Redacted customer turns fit for retraining: opted-out conversations and turns whose
    verdict flagged abuse, injection, repeats or refusal are left out. The rows are
    registered as derived from their conversation, so `forget` removes them too."""
    return await store.call(_export_training, since)
