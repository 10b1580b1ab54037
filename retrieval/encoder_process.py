"""The serving encoder in a child process of its own, so it never waits on the server's GIL.

The encoder's ONNX runs release the GIL, but each text still takes it to be tokenised,
to start its run and to be pooled. Inside the server those short holds queue behind the
event loop (HTTP, moderation, conversation state, logging) and cores sit idle while the
encoder waits its turn. In a child process the encoder has an interpreter of its own:
the server sends a batch's texts over a pipe and gets the vectors back.

`supportbot serve` loads its model this way (`BotModel.load(..., encoder_process=True)`);
everything else (training, evaluation, `supportbot predict`) keeps the encoder in-process,
where a second interpreter would only add start-up time.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import weakref
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import ClassVar

import numpy as np

from supportbot.errors import ModelError

START_TIMEOUT_SECONDS = 120.0
"""Loading the int8 encoder takes about a second; a child silent for this long is stuck."""
STOP_TIMEOUT_SECONDS = 5.0
EXIT_WAIT_SECONDS = 1.0
"""How long a child whose pipe has closed is given to exit, so its exit code is known."""
NICENESS = 10
"""How much lower the child's scheduling priority is than the server's. Under load the
child's runs keep both cores busy; at equal priority they preempted the event loop and
the model threads, which are what hand the child its next batch. In each of six pairs of
runs alternated at concurrency 64, the server with the child at +10 ran more requests per
second and had the lower p99 (figures in docs/benchmarks.md). Alone on the machine the
child still gets every idle core."""
PROCESS_NAME = "supportbot-enc"
"""The child's name: multiprocessing's, and what `top` and `ps -o comm` show (Linux allows
15 characters)."""


class EncoderProcess:
    """`OnnxEncoder`'s serving interface (`encode`, `encode_layers`, `dimension`, `layers`)
    over `serving_encoder` running in a child process.

    Thread-safe: concurrent calls take turns on one pipe; the child spreads each batch over
    its cores as the in-process encoder does. A child that dies fails the batch in hand
    with a `ModelError` and is started again for the next one. The child stops when this
    object is closed or collected, or when the server exits.
    """

    restarts: ClassVar[int] = 0
    """Children started again after one died, in this process (the server's metrics)."""

    def __init__(self, onnx_dir: Path, start_timeout: float = START_TIMEOUT_SECONDS):
        self.path = Path(onnx_dir)
        self._start_timeout = start_timeout
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._pipe: Connection | None = None
        self._stop = lambda: None
        self.dimension = 0
        self.layers = 1
        with self._lock:
            self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs (for tests and CPU accounting)."""
        return self._process.pid if self._process is not None else None

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in input order."""
        return self.encode_layers(texts, 1, batch_size)

    def encode_layers(self, texts: list[str], count: int, batch_size: int = 64) -> np.ndarray:
        """As `OnnxEncoder.encode_layers`, computed in the child."""
        with self._lock:
            pipe = self._pipe if self._pipe is not None else self._restart()
            try:
                pipe.send((list(texts), count, batch_size))
                status, payload = pipe.recv()
            except (EOFError, OSError) as exc:
                code = self._exit_code()
                self._discard()
                raise ModelError(
                    f"{self.path}: the encoder process exited (code {code}) during a batch; "
                    "it is started again for the next one"
                ) from exc
        if status == "error":
            raise ModelError(payload)
        return payload

    def close(self) -> None:
        """Stop the child (idempotent)."""
        with self._lock:
            self._discard()

    def _restart(self) -> Connection:
        """A new child in place of one that died."""
        EncoderProcess.restarts += 1
        return self._start()

    def _start(self) -> Connection:
        """Start the child and wait for its first reply; returns the pipe to it."""
        context = multiprocessing.get_context("spawn")  # fork would copy the server's threads
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve_encoder,
            args=(theirs, str(self.path)),
            name=PROCESS_NAME,
            daemon=True,
        )
        process.start()
        theirs.close()
        self._process, self._pipe = process, ours
        self._stop = weakref.finalize(self, _stop_child, process, ours)
        self.dimension, self.layers = self._first_reply(ours)
        return ours

    def _first_reply(self, pipe: Connection) -> tuple[int, int]:
        try:
            if not pipe.poll(self._start_timeout):
                raise ModelError(
                    f"{self.path}: the encoder process did not start within "
                    f"{self._start_timeout:.0f} s"
                )
            status, payload = pipe.recv()
        except (EOFError, OSError) as exc:
            code = self._exit_code()
            self._discard()
            raise ModelError(f"{self.path}: the encoder process exited (code {code})") from exc
        except ModelError:
            self._discard()
            raise
        if status == "error":
            self._discard()
            raise ModelError(payload)
        return payload

    def _exit_code(self) -> int | None:
        """The dead child's exit code. Its pipe can close a moment before the process is
        reaped, so wait briefly for that; None if it still has not exited."""
        if self._process is None:
            return None
        self._process.join(EXIT_WAIT_SECONDS)
        return self._process.exitcode

    def _discard(self) -> None:
        self._stop()
        self._process = self._pipe = None


def encoder_restarts() -> int:
    """Encoder children started again after one died, in this process."""
    return EncoderProcess.restarts


def _stop_child(process: BaseProcess, pipe: Connection) -> None:
    """Ask the child to finish, then make sure it has."""
    try:
        pipe.send(None)
    except (OSError, ValueError):
        pass  # already gone
    pipe.close()
    process.join(STOP_TIMEOUT_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()


def serve_encoder(pipe: Connection, onnx_dir: str) -> None:
    """The child: load the serving encoder, then answer batches until told to stop or the
    server's end of the pipe closes. Ctrl-C reaches the whole process group; the child
    ignores it so that the server can finish its in-flight turns first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _name_process(PROCESS_NAME)
    _yield_to_the_server()
    try:
        encoder = _load(Path(onnx_dir))
    except Exception as exc:  # reported to the parent, which raises it
        pipe.send(("error", _describe(exc)))
        return
    pipe.send(("ready", (encoder.dimension, encoder.layers)))
    while True:
        try:
            request = pipe.recv()
        except (EOFError, OSError):
            return  # the server is gone
        if request is None:
            return
        texts, count, batch_size = request
        try:
            reply = ("ok", encoder.encode_layers(texts, count, batch_size))
        except Exception as exc:  # one bad batch must not end the child
            reply = ("error", _describe(exc))
        pipe.send(reply)


def _yield_to_the_server() -> None:
    """Run at `NICENESS` above the server (Unix; elsewhere at its priority)."""
    try:
        os.nice(NICENESS)
    except (AttributeError, OSError):
        pass


def _name_process(name: str) -> None:
    """Show the child as `name` in `top` and `ps -o comm` (Linux); elsewhere it keeps the
    interpreter's name."""
    try:
        Path("/proc/self/comm").write_text(name[:15], encoding="ascii")
    except OSError:
        pass


def _load(onnx_dir: Path):
    from threadpoolctl import threadpool_limits

    from retrieval.onnx_encoder import serving_encoder

    threadpool_limits(limits=1)  # pooling's numpy must not spin threads beside the runs
    return serving_encoder(onnx_dir)


def _describe(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ModelError) else f"encoder process: {exc!r}"
