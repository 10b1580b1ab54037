"""A real PostgreSQL server for tests: Debian's binaries, a cluster in a temporary directory.

`initdb` + `pg_ctl` as the `postgres` user (PostgreSQL refuses to run as root), listening on
a free loopback port and on a Unix socket inside the cluster's directory, with `trust`
authentication for loopback only. Each test gets its own database (`fresh_database`), so
tests never see each other's rows and need no clean-up. `SUPPORTBOT_TEST_PG_URL` points the
tests at a server that is already running instead (a developer's own).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from supportbot.errors import SupportbotError

EXTERNAL_URL_VARIABLE = "SUPPORTBOT_TEST_PG_URL"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: `url` reaches its maintenance database as the superuser."""

    url: str

    def database_url(self, name: str) -> str:
        """The URL of database `name` on this server."""
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{name}"

    def fresh_database(self) -> str:
        """Create an empty database with a unique name; returns its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)


def find_binaries() -> Path:
    """The newest Debian PostgreSQL bin directory; a clear error when none is installed."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise SupportbotError(
        "PostgreSQL is not installed: `apt-get install postgresql` (the tests start their "
        f"own server), or set {EXTERNAL_URL_VARIABLE} to a running one"
    )


def _as_postgres(command: list[str]) -> list[str]:
    """Run as the `postgres` user when we are root; as ourselves otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SUPERUSER, "--", *command]
    return command


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SupportbotError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")


@contextmanager
def running_server() -> Iterator[PostgresServer]:
    """A server for the duration of the block: the external one if configured, else a fresh
    cluster that is stopped and deleted afterwards."""
    external = os.environ.get(EXTERNAL_URL_VARIABLE)
    if external:
        yield PostgresServer(external)
        return
    binaries = find_binaries()
    root = Path(tempfile.mkdtemp(prefix="supportbot-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SUPERUSER, SUPERUSER)
    data = root / "data"
    port = _free_port()
    _run([str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8"])
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    log = root / "server.log"
    try:
        pg_ctl = str(binaries / "pg_ctl")
        _run([pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "start"])
        yield PostgresServer(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run(
            _as_postgres([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)
