"""Process-wide tuning `supportbot serve` applies once its model is loaded: one thread per
math library, and the loaded objects out of the garbage collector's way."""

from __future__ import annotations

import gc


def single_threaded_math() -> None:
    """One thread for the BLAS and OpenMP pools numpy, scikit-learn and FAISS load.

    The server's matrix products are small (one batch of messages against a classifier
    head or an index), too small to split; with 2 threads per pool their workers spun
    after every product on the cores the encoder and the event loop need. Limiting them
    took the demo bot from 13.8 to 9.2 ms of CPU per request at 64 concurrent customers
    (benchmarks/load.py). threadpoolctl reaches each loaded library's own pool.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def freeze_loaded_objects() -> None:
    """Move everything loaded so far (the model, its vocabularies, passage rows) out of
    the cyclic garbage collector's reach.

    The demo bot leaves about 140,000 tracked objects, and a full collection over them
    took 68 ms here; under load such a pause lands on whichever turns are in flight.
    Frozen objects are still freed by reference counting; only garbage cycles among them
    are never collected, which costs memory only if the first model is swapped out and
    held such cycles. With the freeze, p99 at 64 concurrent customers went from 281-283
    ms to 253-259 ms (two alternating pairs of benchmarks/load.py runs). A model swapped
    in later is frozen by `refreeze_loaded_objects`.
    """
    gc.collect()
    gc.freeze()


def refreeze_loaded_objects() -> None:
    """After a model swap: collect the cycles the old model left among frozen objects,
    then freeze the new model. One full collection per swap, instead of the new model's
    objects weighing on every collection for as long as it serves."""
    gc.unfreeze()
    freeze_loaded_objects()
