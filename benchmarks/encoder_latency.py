"""Encoder latency and throughput: sentence-transformers fp32 vs ONNX Runtime fp32 and int8.

Measures, in one run on real banking77 messages, what serving one message costs
(median and p90 ms), what batches of 32 cost (sentences/s), and how far each ONNX
variant's vectors are from the PyTorch ones (mean cosine). The variants take turns in
rounds, so load from other processes on a shared machine falls on all of them alike.

    python benchmarks/encoder_latency.py [--data DIR] [--single 200] [--batched 640]
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
from retrieval.onnx_encoder import OnnxEncoder, export_onnx  # noqa: E402

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


def machine_info(load_before: tuple[float, ...]) -> list[str]:
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
        f"- load average (1 min) before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="banking77 folder")
    parser.add_argument("--single", type=int, default=200, help="messages timed one by one")
    parser.add_argument("--batched", type=int, default=640, help="messages for throughput")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5, help="turns each variant takes")
    parser.add_argument("--threads", type=int, default=None, help="ONNX intra-op threads")
    parser.add_argument("--torch-threads", type=int, default=None, help="default: torch's")
    parser.add_argument("--work-dir", type=Path, default=None, help="keep the exports here")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    messages = load_messages(args.data)
    picked = [messages[i] for i in np.random.default_rng(0).permutation(len(messages))]
    single_set, batch_set = picked[: args.single], picked[-args.batched :]

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        fp32_dir = export_onnx(base_model_path(), work / "onnx-fp32", quantize=False).parent
        int8_dir = export_onnx(base_model_path(), work / "onnx-int8", quantize=True).parent
        torch_encoder = TextEncoder()
        variants = [Variant("sentence-transformers fp32", torch_encoder.encode)]
        for name, directory, invariant in [
            ("ONNX fp32", fp32_dir, False),
            ("ONNX int8 (one text per run, default)", int8_dir, True),
            ("ONNX int8 (padded batches)", int8_dir, False),
        ]:
            encoder = OnnxEncoder(directory, threads=args.threads, batch_invariant=invariant)
            variants.append(Variant(name, encoder.encode))

        reference = torch_encoder.encode(batch_set, batch_size=args.batch_size)
        cosines = {}
        for variant in variants:  # also the warm-up: allocator, thread pools, kernels
            vectors = variant.encode(batch_set, batch_size=args.batch_size)
            cosines[variant.name] = float((vectors * reference).sum(axis=1).mean())
        for r in range(args.rounds):
            singles = single_set[r :: args.rounds]
            batch = batch_set[r :: args.rounds]
            for variant in variants:
                run_round(variant, singles, batch, args.batch_size)

    print(
        f"{len(single_set)} messages one by one, {len(batch_set)} in batches of "
        f"{args.batch_size}, {args.rounds} interleaved rounds; data {args.data / 'test.csv'}\n"
    )
    print("| encoder | single median ms | single p90 ms | batch32 sent/s | cosine vs PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for v in variants:
        median, p90 = np.percentile(v.single_ms, [50, 90])
        rate = v.batch_count / v.batch_seconds
        print(f"| {v.name} | {median:.2f} | {p90:.2f} | {rate:.0f} | {cosines[v.name]:.4f} |")
    print()
    print("\n".join(machine_info(load_before)))


if __name__ == "__main__":
    main()
