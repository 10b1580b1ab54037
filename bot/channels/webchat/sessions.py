"""Web chat sessions: the server issues a random token per conversation and keeps only its
hash, beside the conversation log, so a session survives a restart and a leaked database
does not give anyone a customer's live session.

The conversation id comes from here, never from the client: whoever holds the token holds
that conversation and nothing else.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlite_utils

from bot.store.conversation_log import open_side_database

SESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS webchat_sessions (
    token_hash TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_seen_at REAL NOT NULL
);
"""
log = logging.getLogger(__name__)

CONVERSATION_PREFIX = "webchat-"
MAX_TOKEN_CHARS = 200


def token_hash(token: str) -> str:
    """SHA-256 suffices: tokens are 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_session_db(path: str | Path) -> sqlite_utils.Database:
    return open_side_database(path, SESSION_SCHEMA)


def issue(db: sqlite_utils.Database, now: float) -> tuple[str, str]:
    """A new (token, conversation id)."""
    token = secrets.token_urlsafe(32)
    conversation_id = CONVERSATION_PREFIX + secrets.token_hex(12)
    with db.conn:
        db.execute(
            "INSERT INTO webchat_sessions VALUES (?, ?, ?, ?)",
            [token_hash(token), conversation_id, now, now],
        )
    return token, conversation_id


def purge(db: sqlite_utils.Database, now: float, ttl: float) -> int:
    """Delete the sessions unused for `ttl` seconds; returns how many."""
    with db.conn:
        cursor = db.execute("DELETE FROM webchat_sessions WHERE last_seen_at < ?", [now - ttl])
    return cursor.rowcount


def resolve(db: sqlite_utils.Database, token: str, now: float, ttl: float) -> str | None:
    """The token's conversation, touching the session; None if unknown or expired."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    hashed = token_hash(token)
    with db.conn:
        db.execute("DELETE FROM webchat_sessions WHERE last_seen_at < ?", [now - ttl])
        row = db.execute(
            "SELECT conversation_id FROM webchat_sessions WHERE token_hash = ?", [hashed]
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE webchat_sessions SET last_seen_at = ? WHERE token_hash = ?", [now, hashed]
        )
    return row[0]


class WebchatSessions:
    """Sessions in the conversation log's file, on their own connection and thread."""

    def __init__(self, path: str | Path, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supportbot-webchat")
        try:
            self._db = self._executor.submit(open_session_db, path).result()
        except BaseException:
            self._executor.shutdown(wait=True)
            raise

    async def _run(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def issue(self) -> tuple[str, str]:
        return await self._run(issue, self._db, time.time())

    async def resolve(self, token: str) -> str | None:
        return await self._run(resolve, self._db, token, time.time(), self.ttl)

    async def purge(self) -> int:
        return await self._run(purge, self._db, time.time(), self.ttl)

    async def purge_every(self, interval: float) -> None:
        """Purge now and then every `interval` seconds until cancelled, so expired rows go
        even when nobody presents their token again; a failed run is retried next time."""
        while True:
            try:
                removed = await self.purge()
                if removed:
                    log.info("web chat: removed %d expired session(s)", removed)
            except Exception:
                log.exception("web chat session purge failed; retrying next interval")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        await self._run(self._db.conn.close)
        await asyncio.to_thread(self._executor.shutdown, True)
