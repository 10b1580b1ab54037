"""Fine-tuning in float32 against bfloat16 mixed precision (`training.precision`), on this
machine, in one command: both run the same steps from the same seed, in turn.

    python benchmarks/precision.py [--data ../shared/data] [--ranker-steps 60]
        [--intent-examples 2000] [--out results/precision-bench]

Ranker: `finetune_ranker`, what `supportbot train` runs, on the pairs of the first 1,500
SGD `train` dialogues (random batches of 64, no time budget), then recall@1 of 100 on the
agent turns of the first 300 `dev` dialogues (the benchmarks/ranker.py protocol on a
slice), so a loss of quality would show. Intent: `finetune_encoder` in full mode for one
epoch over a stratified sample of BANKING77 `train` (batches of 32); its time only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmark this checkout, not an installed copy
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks.encoder_latency import machine_info  # noqa: E402
from benchmarks.intent import load_dataset, stratified_sample  # noqa: E402
from benchmarks.ranker import load_split  # noqa: E402
from supportbot.config import TrainingConfig  # noqa: E402
from training.dialogue_pairs import extract_pairs  # noqa: E402
from training.finetune import finetune_encoder  # noqa: E402
from training.precision import cpu_has_native_bf16  # noqa: E402
from training.ranker_eval import selection_score, selection_task, true_reply_ranks  # noqa: E402
from training.ranker_finetune import (  # noqa: E402
    FinetuneSettings,
    embed,
    finetune_ranker,
    ranker_tokenizers,
)
from training.ranker_trainer import ranker_settings, transformer_pairs  # noqa: E402
from training.schema import Example, Source  # noqa: E402

PRECISIONS = ("fp32", "bf16")
SEED = 42


def ranker_run(train, dev, steps: int, precision: str) -> dict:
    settings = FinetuneSettings(
        seed=SEED,
        max_pairs=steps * 64,
        min_steps=steps,
        max_seconds=None,
        threads=torch.get_num_threads(),
        precision=precision,
    )
    result = finetune_ranker(train, settings, lambda line: None)
    transformer = result.model[0].auto_model
    task = selection_task(dev, 100, seed=0)
    tokenizers = ranker_tokenizers(settings)
    with torch.no_grad():
        contexts = embed(transformer, tokenizers[0], [p.context for p in dev]).numpy()
        replies = embed(transformer, tokenizers[1], task.replies).numpy()
    score = selection_score(true_reply_ranks(task, contexts, replies))
    return {
        "part": "ranker",
        "precision": result.precision,
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "seconds_per_step": round(result.seconds / result.steps, 2),
        "recall_at_1": round(score.recall_at_1, 4),
        "mrr": round(score.mrr, 4),
    }


def intent_run(examples: list[Example], labels: list[str], precision: str) -> dict:
    config = TrainingConfig(mode="full", finetune_epochs=1, seed=SEED, precision=precision)
    result = finetune_encoder(examples, labels, "full", config, lambda line: None)
    steps = -(-len(examples) // config.finetune_batch_size)
    return {
        "part": "intent (full fine-tuning)",
        "precision": result.precision,
        "steps": steps,
        "seconds": round(result.seconds, 1),
        "seconds_per_step": round(result.seconds / steps, 2),
    }


def intent_sample(data: Path, size: int) -> tuple[list[Example], list[str]]:
    train = load_dataset("banking77", data).splits["train"]
    rows = stratified_sample(train.labels, size, np.random.default_rng(SEED))
    source = Source("banking77/train.csv", 0)
    examples = [Example(train.texts[i], train.labels[i], source) for i in rows]
    return examples, sorted(set(train.labels))


def report(rows: list[dict], loads: list[float]) -> str:
    lines = [
        "| part | precision | steps | seconds | s per step | recall@1 of 100 | MRR |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        quality = f"{row['recall_at_1']:.1%} | {row['mrr']:.3f}" if "mrr" in row else "- | -"
        lines.append(
            f"| {row['part']} | {row['precision']} | {row['steps']} | {row['seconds']:.1f} | "
            f"{row['seconds_per_step']:.2f} | {quality} |"
        )
    lines.append("")
    lines += machine_info(loads)
    lines.append(f"- native bfloat16 (CPU flags avx512_bf16 / amx_bf16): {cpu_has_native_bf16()}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--ranker-steps", type=int, default=60)
    parser.add_argument("--intent-examples", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("results/precision-bench"))
    args = parser.parse_args(argv)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    loads = [os.getloadavg()[0]]
    settings = ranker_settings(SEED)
    train = transformer_pairs(extract_pairs(load_split(args.data / "sgd", "train", 1500)), settings)
    dev = transformer_pairs(extract_pairs(load_split(args.data / "sgd", "dev", 300)), settings)
    examples, labels = intent_sample(args.data, args.intent_examples)
    rows = []
    for precision in PRECISIONS:
        rows.append(intent_run(examples, labels, precision))
        loads.append(os.getloadavg()[0])
        print(rows[-1], flush=True)
    for precision in PRECISIONS:
        rows.append(ranker_run(train, dev, args.ranker_steps, precision))
        loads.append(os.getloadavg()[0])
        print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "precision.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    text = report(rows, loads)
    (args.out / "precision.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
