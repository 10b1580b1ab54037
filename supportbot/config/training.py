"""The `training:` section: how `supportbot train` learns the intent classifier and
the response ranker."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from supportbot.config.base import Strict

FEATURE_LAYER_CHOICES = (1, 2)
"""The layer counts `training.feature_layers: auto` compares on held-out data."""


class TrainingConfig(Strict):
    seed: int = 42
    mode: Literal["auto", "frozen", "full", "lora"] = "frozen"
    """frozen: the packaged encoder as is, a trained head and the n-gram model; trains in
    a minute or two. full / lora fine-tune the encoder (ten times the training time for a
    few tenths of a point on BANKING77, docs/benchmarks.md). auto: full fine-tuning when
    there are at least `finetune_min_examples` examples, frozen below."""
    finetune_min_examples: int = Field(default=2000, ge=0)
    finetune_epochs: int = Field(default=2, gt=0)
    finetune_batch_size: int = Field(default=32, gt=0)
    finetune_learning_rate: float = Field(default=5e-5, gt=0)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """Number format of encoder fine-tuning (intent modes full / lora, and the response
    ranker). auto: bf16 mixed precision where the CPU computes bfloat16 natively
    (AVX512-BF16 or AMX), fp32 elsewhere (training/precision.py)."""
    lora_rank: int = Field(default=16, gt=0)
    max_length: int = Field(default=64, gt=8)
    epochs: int = Field(default=30, gt=0)
    batch_size: int = Field(default=64, gt=0)
    learning_rate: float = Field(default=1e-2, gt=0)
    holdout_fraction: float = Field(default=0.1, ge=0, lt=0.5)
    min_examples_per_intent: int = Field(default=5, ge=1)
    ambiguity_margin: float = Field(default=0.1, ge=0, le=1)
    oos_recall_target: float = Field(default=0.8, gt=0, le=1)
    """Share of held-out out-of-scope examples the threshold must reject, when data has them."""
    in_scope_keep: float = Field(default=0.97, gt=0, le=1)
    """Without out-of-scope examples, the share of correctly classified held-out messages
    the thresholds must still answer (on small data, held out by cross-validation)."""
    feature_layers: Literal["auto"] | int = "auto"
    """How many of the encoder's last layers (pooled, side by side) the intent head reads.
    auto: 1 or 2, whichever is more accurate on held-out data (training/head_layers.py)."""
    lexical_features: bool = True
    """Fuse a word/character n-gram model with the vector head when held-out data says so."""
    lexical_regularisation: float = Field(default=30.0, gt=0)
    """Inverse L2 strength (scikit-learn's C) of the n-gram model's logistic regression."""
    kb_answers_as_intents: bool = True
    """Learn each knowledge-base answer given to at least `min_examples_per_intent`
    distinct questions as a class of the intent classifier (training/kb_answer_groups.py)."""
    kb_questions_as_out_of_scope: bool = True
    """Train the intent classifier with the knowledge base's questions as out-of-scope
    examples, so it leaves them to retrieval (training/kb_negatives.py)."""
    ranker_minutes: float = Field(default=20.0, ge=0)
    """Time budget for fine-tuning the response ranker on the project's dialogues; 0 trains
    no ranker (an intent's replies are then chosen among its templates at random)."""
    ranker_ngram_turns: list[Annotated[int, Field(ge=1, le=50)]] = Field(
        default=[3, 3, 6, 6], min_length=1, max_length=8
    )
    """One n-gram ranker member per entry, reading that many of the context's last turns.
    Each member's tables take memory in proportion to the dialogue log's vocabulary: by
    their shapes, 118 MB apiece on SGD's 106,301 pairs, where `[3, 3]` (the default
    before) takes 164 MB in all and scored 1.2 points lower in recall@1 (docs/benchmarks.md)."""

    @field_validator("feature_layers", mode="before")
    @classmethod
    def _layer_count(cls, value: object) -> object:
        """One message for every wrong value, not one per member of the union."""
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            return value
        raise ValueError(f'expected "auto" or a whole number of layers from 1, got {value!r}')
