"""Customers as log lines and the audit log name them: a keyed hash of the sender id.

A sender id can be an email address or a phone number (REST callers choose it), so it is
never written to a log as is. A plain SHA-256 would not help: anyone can hash a guessed
address and compare. HMAC-SHA256 with a secret salt (`SUPPORTBOT_ID_SALT`) can only be
recomputed by someone who has the salt. Without it set, each process draws a random salt:
its log lines still correlate within the run, not across restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import cache

SALT_ENV = "SUPPORTBOT_ID_SALT"


@cache
def _salt() -> bytes:
    return (os.environ.get(SALT_ENV) or secrets.token_hex(32)).encode()


def keyed_hash(sender_id: str) -> str:
    """The full HMAC-SHA256 of the sender id under the deployment's salt, in hex."""
    data = sender_id.encode("utf-8", "surrogatepass")
    return hmac.new(_salt(), data, hashlib.sha256).hexdigest()


def pseudonym(sender_id: str) -> str:
    """What a log line shows for a customer: short, stable for the salt, not reversible."""
    return "id:" + keyed_hash(sender_id)[:16]
