"""Chooses and prepares the encoder a model directory serves with: the packaged base
encoder (frozen mode) or a fine-tuned copy (full or LoRA), plus its int8 ONNX export."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from retrieval.encoder import CachingEncoder, TextEncoder, base_model_path
from retrieval.intent_classifier import OUT_OF_SCOPE
from supportbot.config import TrainingConfig
from supportbot.errors import ConfigError
from training.finetune import finetune_encoder
from training.intent_trainer import split_holdout
from training.schema import TrainingData

Progress = Callable[[str], None]
ENCODER_DIR = "encoder"
ONNX_DIR = "encoder-onnx"


@dataclass
class PreparedEncoder:
    encoder: CachingEncoder
    mode: str
    directory: str | None
    """Fine-tuned encoder folder inside the model directory; None for the base encoder."""
    files: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)


def resolve_mode(config: TrainingConfig, in_scope_examples: int) -> str:
    if config.mode != "auto":
        return config.mode
    return "full" if in_scope_examples >= config.finetune_min_examples else "frozen"


def prepare_encoder(
    data: TrainingData, config: TrainingConfig, stage: Path, progress: Progress
) -> PreparedEncoder:
    check_feature_layers(config, base_layer_count())
    mode = resolve_mode(config, len(data.in_scope_examples()))
    if mode == "frozen":
        return PreparedEncoder(
            CachingEncoder(TextEncoder()),
            mode,
            None,
            metrics={"mode": mode, "trainable_parameters": 0},
        )
    # Fine-tune only on what the head trains on: the calibration holdout stays unseen.
    examples = data.examples
    if not data.validation_examples:
        examples, _ = split_holdout(examples, config.holdout_fraction, config.seed)
    labels = sorted({e.intent for e in examples} - {OUT_OF_SCOPE})
    if any(e.intent == OUT_OF_SCOPE for e in examples):
        labels.append(OUT_OF_SCOPE)
    result = finetune_encoder(examples, labels, mode, config, progress)
    result.model.save(str(stage / ENCODER_DIR))
    files = [str(p.relative_to(stage)) for p in (stage / ENCODER_DIR).rglob("*") if p.is_file()]
    metrics = {
        "mode": mode,
        "trainable_parameters": result.trainable_parameters,
        "finetune_seconds": round(result.seconds, 1),
        "finetune_precision": result.precision,
    }
    encoder = CachingEncoder(TextEncoder(stage / ENCODER_DIR))
    return PreparedEncoder(encoder, mode, ENCODER_DIR, files, metrics)


def base_layer_count() -> int:
    config = json.loads((base_model_path() / "config.json").read_text(encoding="utf-8"))
    return int(config["num_hidden_layers"])


def check_feature_layers(config: TrainingConfig, available: int) -> None:
    """A configured layer count the encoder does not have fails before any training."""
    wanted = config.feature_layers
    if wanted != "auto" and wanted > available:
        raise ConfigError(
            f"training.feature_layers: {wanted} is more than the encoder's {available} layers"
        )


def export_serving_encoder(
    prepared: PreparedEncoder, stage: Path, progress: Progress, layers: int = 1
) -> list[str]:
    """int8 ONNX Runtime export of the encoder the classifier was trained on, with the
    `layers` last layers its head reads."""
    from retrieval.onnx_encoder import export_onnx
    from training.onnx_cache import cached_export

    progress("exporting the encoder to ONNX (int8)")
    if prepared.directory:  # fine-tuned in this run: new every time
        export_onnx(stage / prepared.directory, stage / ONNX_DIR, quantize=True, layers=layers)
    else:
        cached_export(base_model_path(), stage / ONNX_DIR, layers, progress)
    return [str(p.relative_to(stage)) for p in (stage / ONNX_DIR).rglob("*") if p.is_file()]
