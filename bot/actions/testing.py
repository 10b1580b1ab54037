"""A real rasa-sdk action server on a loopback port, for tests of bots with custom actions.

Starts `python -m rasa_sdk --actions <package>` in its own process group. rasa-sdk has no
interface option; it reads the address from `SANIC_HOST` (default 0.0.0.0), so this sets
it to 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def action_server(package: str, workdir: Path, startup_timeout: float = 60.0) -> Iterator[str]:
    """Yield the base URL of a rasa-sdk server running `package`'s actions; the server sees
    this process's import path and writes its log to `workdir/action_server.log`."""
    port = free_port()
    log_path = workdir / "action_server.log"
    command = [sys.executable, "-m", "rasa_sdk", "--actions", package, "--port", str(port)]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=_server_env(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://{HOST}:{port}"
        _wait_healthy(url, process, log_path, startup_timeout)
        yield url
    finally:
        _stop(process)


def _server_env() -> dict[str, str]:
    path = [entry or os.getcwd() for entry in sys.path]
    return {
        **os.environ,
        "SANIC_HOST": HOST,
        "ACTION_SERVER_SANIC_WORKERS": "1",
        "PYTHONPATH": os.pathsep.join(path),
    }


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")
            raise RuntimeError(f"action server exited with {process.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"action server at {url} not healthy within {timeout:g}s")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its Sanic worker (same process group, started by us)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
