"""Process-wide settings `supportbot serve` makes once its model is loaded."""

from __future__ import annotations

import gc

from bot.server.process import freeze_loaded_objects, refreeze_loaded_objects


def test_objects_loaded_before_serving_are_out_of_the_collectors_reach():
    loaded = [{"passage": i} for i in range(1000)]
    try:
        freeze_loaded_objects()
        assert gc.get_freeze_count() >= len(loaded)
    finally:
        gc.unfreeze()


def test_refreezing_after_a_swap_collects_the_old_models_cycles():
    old_model = [[] for _ in range(1000)]
    for row in old_model:
        row.append(row)  # a reference cycle: only the cyclic collector frees it
    try:
        freeze_loaded_objects()
        frozen = gc.get_freeze_count()
        del old_model, row
        refreeze_loaded_objects()
        assert gc.get_freeze_count() <= frozen - 1000
    finally:
        gc.unfreeze()
