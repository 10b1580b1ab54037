"""The `learning:` section: the review queue and when a retrained model is promoted."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from supportbot.config.base import Strict


class LearningConfig(Strict):
    """The learning loop: which turns `supportbot review` picks, and when `supportbot retrain`
    may replace the current model (docs: README, "Learning loop")."""

    test_file: str | None = None
    """Frozen labelled test set (relative to the project) that the candidate and the current
    model are both scored on; required by retrain. Never used for picking or training."""
    metric: Literal["accuracy", "top_intent_accuracy", "macro_f1"] = "accuracy"
    tolerance: float = Field(default=0.005, ge=0, le=1)
    """The candidate is promoted when its metric >= current - tolerance."""
    labels_file: str = "data/reviewed.csv"
    """Where retrain writes the reviewed labels as training data (relative to the project)."""
    review_size: int = Field(default=40, gt=0)
    """Turns per `supportbot review` when --size is not given."""
    low_confidence: float = Field(default=0.5, gt=0, le=1)
    """A turn below this confidence counts as a low-confidence turn."""
