"""The micro-batcher: an idle model starts on the first item, later items form batches."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.server.batching import MicroBatcher


class GatedModel:
    """A blocking batch function that holds its first batch until released, recording every
    batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release.wait(5)
        if "boom" in items:
            raise ValueError("model failed")
        return [item.upper() for item in items]


async def queue_behind_a_running_batch(max_batch: int, later: str):
    """A batcher whose first batch, ["a"], is running while `later`'s items queue."""
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch=max_batch)
    batcher.start()
    first = asyncio.create_task(batcher.submit("a"))
    assert await asyncio.to_thread(model.first_started.wait, 5)
    rest = [asyncio.create_task(batcher.submit(x)) for x in later]
    await asyncio.sleep(0.05)  # all of them are queued behind the running batch
    model.release.set()
    return model, batcher, first, rest


async def test_first_item_runs_alone_and_the_queue_forms_the_next_batch():
    model, batcher, first, rest = await queue_behind_a_running_batch(8, "bcdef")
    assert await first == "A"
    assert [await task for task in rest] == list("BCDEF")
    assert model.batches == [["a"], list("bcdef")]
    await batcher.aclose()


async def test_batches_are_capped_at_max_batch():
    model, batcher, first, rest = await queue_behind_a_running_batch(2, "bcde")
    await asyncio.gather(first, *rest)
    assert model.batches == [["a"], ["b", "c"], ["d", "e"]]
    await batcher.aclose()


async def test_a_failing_batch_fails_each_of_its_waiters_and_the_batcher_goes_on():
    model = GatedModel()
    model.release.set()
    batcher = MicroBatcher(model, max_batch=8)
    batcher.start()
    assert await batcher.submit("a") == "A"
    with pytest.raises(ValueError, match="model failed"):
        await batcher.submit("boom")
    assert await batcher.submit("c") == "C"
    await batcher.aclose()


async def test_a_failing_batch_is_retried_alone_so_only_the_bad_item_fails():
    items = ["b", "boom", "c", "d"]
    model, batcher, first, rest = await queue_behind_a_running_batch(8, items)
    assert await first == "A"
    outcomes = await asyncio.gather(*rest, return_exceptions=True)
    assert outcomes[0::2] == ["B", "C"] and outcomes[3] == "D"
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "model failed"
    assert model.batches == [["a"], items, ["b"], ["boom"], ["c"], ["d"]]
    await batcher.aclose()


async def test_submit_after_close_is_refused():
    batcher = MicroBatcher(lambda items: items)
    batcher.start()
    await batcher.aclose()
    with pytest.raises(RuntimeError, match="not running"):
        await batcher.submit("a")


async def hold_first_batch(max_in_flight: int):
    """A batcher whose first batch, ["a"], has started and is held until released."""
    model = GatedModel()
    batcher = MicroBatcher(model, max_batch=8, max_in_flight=max_in_flight)
    batcher.start()
    first = asyncio.create_task(batcher.submit("a"))
    assert await asyncio.to_thread(model.first_started.wait, 5)
    return model, batcher, first


async def test_with_two_in_flight_a_batch_runs_while_the_first_is_still_running():
    model, batcher, first = await hold_first_batch(max_in_flight=2)
    assert await asyncio.wait_for(batcher.submit("b"), 5) == "B"
    assert not first.done()
    model.release.set()
    assert await first == "A"
    await batcher.aclose()


async def test_batches_beyond_the_in_flight_limit_wait_for_a_free_slot():
    model, batcher, first = await hold_first_batch(max_in_flight=1)
    second = asyncio.create_task(batcher.submit("b"))
    await asyncio.sleep(0.05)
    assert not second.done() and model.batches == [["a"]]
    model.release.set()
    assert (await first, await second) == ("A", "B")
    await batcher.aclose()
