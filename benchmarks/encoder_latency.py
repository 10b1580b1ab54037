"""Encoder latency and throughput: sentence-transformers fp32 vs ONNX Runtime fp32 and int8.

Measures, in one run on real banking77 messages, what serving one message costs
(median and p90 ms), what batches of 32 cost (sentences/s), and how far each ONNX
variant's vectors are from the PyTorch and the ONNX fp32 ones (mean cosine). The int8
graph without transformer fusions (the export before fusion was added) runs alongside
as the before/after reference. Variants take turns in rounds, so load from other
processes on a shared machine falls on all of them alike; the load average is sampled
every round and reported. A per-stage split (tokenise, session.run, pool) of the
serving default follows the table.

    python benchmarks/encoder_latency.py [--data DIR] [--single 400] [--batched 640]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Benchmark the checkout this script lives in, not whichever copy happens to be installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.encoder import TextEncoder, base_model_path  # noqa: E402
from retrieval.onnx_encoder import (  # noqa: E402
    OnnxEncoder,
    export_onnx,
    mean_pool_normalise,
)

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "banking77"


@dataclass
class Variant:
    name: str
    encode: Callable[..., np.ndarray]
    single_ms: list[float] = field(default_factory=list)
    batch_seconds: float = 0.0
    batch_count: int = 0


def load_messages(data_dir: Path) -> list[str]:
    with (data_dir / "test.csv").open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def run_round(variant: Variant, singles: list[str], batch: list[str], batch_size: int) -> None:
    """One call per single message, as when a request arrives alone; then one batched pass."""
    for text in singles:
        start = time.perf_counter()
        variant.encode([text], batch_size=1)
        variant.single_ms.append((time.perf_counter() - start) * 1000)
    start = time.perf_counter()
    variant.encode(batch, batch_size=batch_size)
    variant.batch_seconds += time.perf_counter() - start
    variant.batch_count += len(batch)


def stage_times(encoder: OnnxEncoder, texts: list[str]) -> dict[str, list[float]]:
    """Where one message's time goes: tokenisation, the ONNX graph, pooling (ms each)."""
    stages: dict[str, list[float]] = {"tokenise": [], "session.run": [], "pool + normalise": []}
    for text in texts:
        t0 = time.perf_counter()
        feeds = encoder.tokenize([text])
        t1 = time.perf_counter()
        hidden = encoder.run(feeds)
        t2 = time.perf_counter()
        mean_pool_normalise(hidden, feeds["attention_mask"])
        t3 = time.perf_counter()
        for name, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            stages[name].append(seconds * 1000)
    return stages


def machine_info(loads: list[float]) -> list[str]:
    """CPU, versions and load: on a shared machine other people's jobs move these numbers."""
    import onnxruntime
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"- CPU: {cpu}; {os.cpu_count()} cores, {usable} usable by this process",
        f"- Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}",
        f"- load average (1 min): before {loads[0]:.2f}, highest {max(loads):.2f}, "
        f"after {loads[-1]:.2f} (sampled every round)",
    ]


def build_variants(work: Path, threads: int | None) -> tuple[list[Variant], OnnxEncoder]:
    """PyTorch, fused fp32, int8 before fusion, fused int8 one text per run (the serving
    default) and fused int8 in padded batches; also returns the serving encoder."""
    base = base_model_path()
    fp32_dir = export_onnx(base, work / "onnx-fp32", quantize=False).parent
    unfused_dir = export_onnx(base, work / "onnx-int8-unfused", fuse=False).parent
    int8_dir = export_onnx(base, work / "onnx-int8").parent
    serving = OnnxEncoder(int8_dir, threads=threads)
    variants = [Variant("sentence-transformers fp32 (PyTorch)", TextEncoder().encode)]
    for name, directory, invariant in [
        ("ONNX fp32, fused", fp32_dir, False),
        ("ONNX int8, unfused graph (before)", unfused_dir, True),
    ]:
        encoder = OnnxEncoder(directory, threads=threads, batch_invariant=invariant)
        variants.append(Variant(name, encoder.encode))
    variants.append(Variant("ONNX int8, fused, one text per run (serving default)", serving.encode))
    padded = OnnxEncoder(int8_dir, threads=threads, batch_invariant=False)
    variants.append(Variant("ONNX int8, fused, padded batches", padded.encode))
    return variants, serving


def agreement(variants: list[Variant], texts: list[str], batch_size: int) -> dict[str, tuple]:
    """Mean cosine of each variant's vectors to PyTorch's and to ONNX fp32's; also warms up."""
    vectors = {v.name: v.encode(texts, batch_size=batch_size) for v in variants}
    torch_ref, fp32_ref = vectors[variants[0].name], vectors[variants[1].name]
    return {
        name: (float((v * torch_ref).sum(axis=1).mean()), float((v * fp32_ref).sum(axis=1).mean()))
        for name, v in vectors.items()
    }


def print_report(
    variants: list[Variant],
    cosines: dict[str, tuple],
    stages: dict[str, list[float]],
    args: argparse.Namespace,
    loads: list[float],
) -> None:
    """Markdown tables ready for docs/benchmarks.md, then the machine and its load."""
    print(
        f"{args.single} messages one by one, {args.batched} in batches of "
        f"{args.batch_size}, {args.rounds} interleaved rounds; data {args.data / 'test.csv'}\n"
    )
    print(
        "| encoder | single median ms | single p90 ms | batch-32 sent/s "
        "| cosine vs PyTorch | cosine vs ONNX fp32 |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for v in variants:
        median, p90 = np.percentile(v.single_ms, [50, 90])
        rate = v.batch_count / v.batch_seconds
        cosine = " | ".join(f"{c:.4f}" for c in cosines[v.name])
        print(f"| {v.name} | {median:.2f} | {p90:.2f} | {rate:.0f} | {cosine} |")
    print("\nServing default, per stage (same messages, after the rounds):\n")
    print("| stage | median ms | p90 ms |\n|---|---:|---:|")
    for name, ms in stages.items():
        median, p90 = np.percentile(ms, [50, 90])
        print(f"| {name} | {median:.3f} | {p90:.3f} |")
    print()
    print("\n".join(machine_info(loads)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="banking77 folder")
    parser.add_argument("--single", type=int, default=400, help="messages timed one by one")
    parser.add_argument("--batched", type=int, default=640, help="messages for throughput")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="turns each variant takes")
    parser.add_argument("--threads", type=int, default=None, help="ONNX intra-op threads")
    parser.add_argument("--torch-threads", type=int, default=None, help="default: torch's")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the exports here")
    args = parser.parse_args(argv)

    loads = [os.getloadavg()[0]]
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    messages = load_messages(args.data)
    picked = [messages[i] for i in np.random.default_rng(0).permutation(len(messages))]
    single_set, batch_set = picked[: args.single], picked[-args.batched :]

    with tempfile.TemporaryDirectory() as tmp:
        variants, serving = build_variants(args.work_dir or Path(tmp), args.threads)
        cosines = agreement(variants, batch_set, args.batch_size)
        for r in range(args.rounds):
            singles = single_set[r :: args.rounds]
            batch = batch_set[r :: args.rounds]
            for variant in variants:
                run_round(variant, singles, batch, args.batch_size)
            loads.append(os.getloadavg()[0])
        stages = stage_times(serving, single_set)
    print_report(variants, cosines, stages, args, loads)


if __name__ == "__main__":
    main()
