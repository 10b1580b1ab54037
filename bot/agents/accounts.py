"""Agent accounts: a name, a role and a secret kept only as an argon2 hash.

argon2-cffi gives a salted, memory-hard hash with its parameters encoded in the stored
string, so a future change of cost settings still verifies old hashes; hand-rolled
`hashlib.scrypt` would need our own encoding, salt handling and constant-time compare.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from supportbot.errors import SupportbotError

ROLES = ("agent", "admin")
AGENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SECRET_BYTES = 24

_HASHER = PasswordHasher()


@dataclass(frozen=True)
class Agent:
    name: str
    display_name: str
    role: str
    disabled: bool

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "role": self.role,
            "disabled": self.disabled,
        }


def check_name(name: str) -> str:
    if not AGENT_NAME.match(name):
        raise SupportbotError(
            f"agent name {name!r}: expected 1-40 lower-case letters, digits, '-' or '_'"
        )
    return name


def add_agent(
    db: sqlite_utils.Database, name: str, role: str = "agent", display_name: str | None = None
) -> str:
    """Create the account and return its secret, which is never stored nor shown again."""
    check_name(name)
    if role not in ROLES:
        raise SupportbotError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if db.execute("SELECT 1 FROM agent_accounts WHERE name = ?", [name]).fetchone():
        raise SupportbotError(f"agent {name!r} already exists")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with db.atomic():
        db.execute(
            "INSERT INTO agent_accounts (name, display_name, role, secret_hash, disabled,"
            " created_at) VALUES (?, ?, ?, ?, 0, ?)",
            [name, display_name or name.capitalize(), role, _HASHER.hash(secret), time.time()],
        )
    return secret


def list_agents(db: sqlite_utils.Database) -> list[Agent]:
    rows = db.execute(
        "SELECT name, display_name, role, disabled FROM agent_accounts ORDER BY name"
    ).fetchall()
    return [Agent(name, shown, role, bool(disabled)) for name, shown, role, disabled in rows]


def disable_agent(db: sqlite_utils.Database, name: str) -> bool:
    """False when there is no such agent. A disabled agent's sessions stop working at once
    (every request re-reads the account)."""
    with db.atomic():
        changed = db.execute(
            "UPDATE agent_accounts SET disabled = 1 WHERE name = ?", [name]
        ).rowcount
    return bool(changed)


def find_agent(db: sqlite_utils.Database, name: str) -> Agent | None:
    row = db.execute(
        "SELECT name, display_name, role, disabled FROM agent_accounts WHERE name = ?", [name]
    ).fetchone()
    return Agent(row[0], row[1], row[2], bool(row[3])) if row else None


def verify_secret(db: sqlite_utils.Database, name: str, secret: str) -> Agent | None:
    """The account when `secret` is its secret (disabled or not: the caller says which
    error to give); None for an unknown name or a wrong secret."""
    row = db.execute("SELECT secret_hash FROM agent_accounts WHERE name = ?", [name]).fetchone()
    if row is None:
        _HASHER.hash(secret)  # the same work as a known name, so timing tells nothing
        return None
    try:
        _HASHER.verify(row[0], secret)
    except (VerificationError, InvalidHashError):
        return None
    return find_agent(db, name)
