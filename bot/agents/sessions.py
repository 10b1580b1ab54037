"""Who is calling the agent API: a console session (an HttpOnly, SameSite=Strict cookie,
with a CSRF token for every POST) or a bearer token `NAME:SECRET`. Failed logins are
rate-limited per client address. Sessions live in memory: a restart signs agents out,
while their claims stay in the store."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field

SESSION_COOKIE = "supportbot_agent"
CSRF_HEADER = "X-CSRF-Token"
SESSION_IDLE_SECONDS = 8 * 3600
BEARER_CACHE_SECONDS = 300
"""A bearer token verified once is trusted this long (by its sha256), so an API client
does not pay an argon2 verification on every request; disabling is still checked."""
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = 60.0


@dataclass
class AgentSession:
    agent: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    last_seen: float = field(default_factory=time.monotonic)


class AgentSessions:
    def __init__(self) -> None:
        self._sessions: dict[str, AgentSession] = {}
        self._bearers: dict[str, tuple[str, float]] = {}

    def open(self, agent: str) -> tuple[str, AgentSession]:
        token = secrets.token_urlsafe(32)
        session = self._sessions[_digest(token)] = AgentSession(agent)
        return token, session

    def get(self, token: str) -> AgentSession | None:
        key = _digest(token)
        session = self._sessions.get(key)
        now = time.monotonic()
        if session is None or now - session.last_seen > SESSION_IDLE_SECONDS:
            self._sessions.pop(key, None)
            return None
        session.last_seen = now
        return session

    def close(self, token: str) -> None:
        self._sessions.pop(_digest(token), None)

    def trusted_bearer(self, token: str) -> str | None:
        cached = self._bearers.get(_digest(token))
        if cached is None or time.monotonic() > cached[1]:
            return None
        return cached[0]

    def trust_bearer(self, token: str, agent: str) -> None:
        self._bearers[_digest(token)] = (agent, time.monotonic() + BEARER_CACHE_SECONDS)


class LoginLimiter:
    """At most `MAX_FAILED_LOGINS` failures per client within `FAILED_LOGIN_WINDOW`."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def retry_after(self, client: str) -> int | None:
        failures = self._failures[client]
        now = time.monotonic()
        while failures and now - failures[0] > FAILED_LOGIN_WINDOW:
            failures.popleft()
        if len(failures) < MAX_FAILED_LOGINS:
            return None
        return int(FAILED_LOGIN_WINDOW - (now - failures[0])) + 1

    def failed(self, client: str) -> None:
        self._failures[client].append(time.monotonic())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
