"""Fine-tunes the sentence encoder for intent classification: fully, or with LoRA adapters
(peft) that are merged back afterwards, so the saved encoder is a plain model either way.

The training objective matches how the encoder is used afterwards: a cosine classifier
(scaled dot product with L2-normalised mean-pooled embeddings), so the fine-tuned
vectors suit both the linear head and nearness to training examples.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from supportbot.config import TrainingConfig
from training.precision import autocast, resolve_precision
from training.schema import Example

Progress = Callable[[str], None]
COSINE_SCALE = 20.0
LORA_TARGETS = ["query", "key", "value", "dense"]


@dataclass
class FinetuneResult:
    model: object
    """The fine-tuned SentenceTransformer, LoRA adapters merged."""
    trainable_parameters: int
    total_parameters: int
    seconds: float
    precision: str
    """fp32 or bf16: what `config.precision` resolved to on this machine."""


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def finetune_encoder(
    examples: list[Example],
    labels: list[str],
    mode: str,
    config: TrainingConfig,
    progress: Progress,
) -> FinetuneResult:
    from sentence_transformers import SentenceTransformer

    from retrieval.encoder import base_model_path, quiet_model_logs

    quiet_model_logs()
    seed_everything(config.seed)
    model = SentenceTransformer(str(base_model_path()), device="cpu", local_files_only=True)
    transformer = model[0].auto_model
    if mode == "lora":
        transformer = _add_lora(transformer, config)
        model[0].auto_model = transformer
    head = torch.nn.Linear(model.get_embedding_dimension(), len(labels), bias=False)
    trainable = [p for p in transformer.parameters() if p.requires_grad]
    counted = sum(p.numel() for p in trainable)
    total = sum(p.numel() for p in transformer.parameters())
    precision = resolve_precision(config.precision)
    progress(
        f"fine-tuning ({mode}, {precision}): {counted:,} of {total:,} encoder parameters trainable"
    )
    started = time.monotonic()
    label_ids = {label: i for i, label in enumerate(labels)}
    _train(model, head, examples, label_ids, mode, config, precision, progress)
    if mode == "lora":
        model[0].auto_model = transformer.merge_and_unload()
    model.eval()
    return FinetuneResult(model, counted, total, time.monotonic() - started, precision)


def _add_lora(transformer: torch.nn.Module, config: TrainingConfig) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=2 * config.lora_rank,
        lora_dropout=0.1,
        target_modules=LORA_TARGETS,
        bias="none",
    )
    return get_peft_model(transformer, lora)


def _embed(model, texts: list[str], max_length: int) -> torch.Tensor:
    features = model.tokenizer(
        texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    hidden = model[0].auto_model(**features).last_hidden_state
    mask = features["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _train(model, head, examples, label_ids, mode, config, precision, progress) -> None:
    generator = torch.Generator().manual_seed(config.seed)
    texts = [e.text for e in examples]
    targets = torch.tensor([label_ids[e.intent] for e in examples])
    batch = config.finetune_batch_size
    steps_per_epoch = math.ceil(len(texts) / batch)
    total = steps_per_epoch * config.finetune_epochs
    learning_rate = config.finetune_learning_rate * (10 if mode == "lora" else 1)
    parameters = [p for p in model[0].auto_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [
            {"params": parameters, "lr": learning_rate},
            {"params": head.parameters(), "lr": 1e-2},
        ],
        weight_decay=0.01,
    )
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / (total - warmup))),
    )
    model.train()
    started, step, running = time.monotonic(), 0, 0.0
    report_every = max(1, total // 20)
    for _epoch in range(config.finetune_epochs):
        for indices in torch.randperm(len(texts), generator=generator).split(batch):
            with autocast(precision):
                embeddings = _embed(model, [texts[i] for i in indices], config.max_length)
            embeddings = embeddings.float()
            weights = torch.nn.functional.normalize(head.weight, dim=-1)
            loss = torch.nn.functional.cross_entropy(
                COSINE_SCALE * embeddings @ weights.T, targets[indices]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
            if step % report_every == 0 or step == total:
                elapsed = time.monotonic() - started
                progress(
                    f"  fine-tune: step {step}/{total}, loss {running:.4f}, "
                    f"elapsed {elapsed:.0f}s, eta {elapsed / step * (total - step):.0f}s"
                )
