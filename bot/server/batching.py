"""Micro-batching of blocking model calls.

Concurrent turns each submit one item; a single worker task takes everything queued and
runs the blocking function once on the batch, in a thread, so the event loop never waits
on the model and the model sees batches, not singles.

By default the worker never waits for a batch to fill: an idle model starts on the
first item at once (a lone customer pays no batching delay), and items that arrive while
it runs form the next batch, so batches grow with load by themselves. A positive
`max_wait_seconds` trades that latency for fuller batches.

With `max_in_flight` above 1, the next batch starts while earlier ones still run (each in
its own thread), up to that many at once. A batch of the bot's model is part parallel
(the encoder, which releases the GIL) and part serial (retrieval and classification in
Python); two in flight let one batch's serial part overlap the next one's encoding,
instead of leaving the encoder's cores idle meanwhile.

A batch that raises is retried one item at a time in the same thread: only the items that
fail alone get the error, so one customer's unusual message never fails the others'.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], list[Result]],
        max_batch: int = 32,
        max_wait_seconds: float = 0.0,
        max_in_flight: int = 1,
        thread_name: str = "model",
        on_batch: Callable[[int], None] | None = None,
    ):
        """`thread_name` prefixes the batches' threads' names (what py-spy and `top -H`
        show); `on_batch` is told each batch's size (the server's metrics)."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._run_batch = run_batch
        self._on_batch = on_batch
        self._max_batch = max_batch
        self._max_wait = max_wait_seconds
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_in_flight, thread_name_prefix=thread_name)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._running: set[asyncio.Task] = set()
        self._worker: asyncio.Task | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._serve(), name="micro-batcher")

    async def submit(self, item: Item) -> Result:
        if self._worker is None or self._worker.done():
            raise RuntimeError("the model batcher is not running")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def aclose(self) -> None:
        """Finish the batches already queued, then stop the worker and its thread."""
        if self._worker is not None:
            await self._queue.join()
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        self._executor.shutdown(wait=True)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()  # released when a batch finishes (`_run`)
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            deadline = loop.time() + self._max_wait
            while self._max_wait > 0 and len(batch) < self._max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0 and self._queue.empty():
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), max(timeout, 0)))
                except TimeoutError:
                    break
            if self._on_batch is not None:
                self._on_batch(len(batch))
            task = loop.create_task(self._run(loop, batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list) -> None:
        try:
            outcomes = await loop.run_in_executor(self._executor, self._outcomes, batch)
        finally:
            self._slots.release()
        for (_, future), (result, error) in zip(batch, outcomes, strict=True):
            if not future.done():
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)
            self._queue.task_done()

    def _outcomes(self, batch: list) -> list[tuple[object, Exception | None]]:
        """(result, error) per item. A failed batch is retried item by item, so one bad
        item fails only its own turn, not every turn batched with it."""
        items = [item for item, _ in batch]
        try:
            return [(result, None) for result in self._run_batch(items)]
        except Exception as exc:  # the dispatch boundary of each failed turn logs it
            if len(items) == 1:
                return [(None, exc)]
        return [self._alone(item) for item in items]

    def _alone(self, item: Item) -> tuple[object, Exception | None]:
        try:
            [result] = self._run_batch([item])
        except Exception as exc:
            return None, exc
        return result, None
