"""Process-wide settings `supportbot serve` makes once its model is loaded."""

from __future__ import annotations

import gc

from bot.server import freeze_loaded_objects


def test_objects_loaded_before_serving_are_out_of_the_collectors_reach():
    loaded = [{"passage": i} for i in range(1000)]
    try:
        freeze_loaded_objects()
        assert gc.get_freeze_count() >= len(loaded)
    finally:
        gc.unfreeze()
