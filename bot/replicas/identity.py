"""Which replica this process is: `SUPPORTBOT_REPLICA`, else host name and process id.

A load balancer's replicas are otherwise indistinguishable; `/version` reports this id so
an operator (and a test) can see which replica answered and which model it serves.
"""

from __future__ import annotations

import os
import socket

REPLICA_VARIABLE = "SUPPORTBOT_REPLICA"


def replica_id() -> str:
    """The configured replica id, or `host-pid` when none is set."""
    configured = os.environ.get(REPLICA_VARIABLE, "").strip()
    if configured:
        return configured
    return f"{socket.gethostname()}-{os.getpid()}"
