"""The number format fine-tuning computes in: float32, or bfloat16 mixed precision.

Under bfloat16 autocast the encoder's matrix products run in bfloat16 while the weights,
their gradients, the optimiser state and the loss stay float32. On a CPU that multiplies
bfloat16 natively (AVX512-BF16 or AMX), a ranker step on SGD took 1.78 s instead of 2.64 s
and an intent step 0.58 s instead of 0.96 s, the ranker as accurate after as in float32
(benchmarks/precision.py, docs/benchmarks.md). Elsewhere bfloat16 is emulated, so `auto`
picks it only where it is native.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Literal

import torch

Precision = Literal["auto", "fp32", "bf16"]
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO = Path("/proc/cpuinfo")


def resolve_precision(wanted: Precision) -> Literal["fp32", "bf16"]:
    """`auto` becomes bf16 on a CPU with native bfloat16 arithmetic, fp32 otherwise."""
    if wanted != "auto":
        return wanted
    return "bf16" if cpu_has_native_bf16() else "fp32"


def cpu_has_native_bf16() -> bool:
    """True when the CPU flags name a bfloat16 instruction set. Read from /proc/cpuinfo
    (PyTorch's own check is private); where it is missing (macOS, Windows) the answer is
    False, so those machines keep float32."""
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return not NATIVE_BF16_FLAGS.isdisjoint(line.split(":", 1)[-1].split())
    return False


def autocast(precision: Literal["fp32", "bf16"]) -> AbstractContextManager:
    """The forward pass's context: bfloat16 autocast for bf16, a no-op for fp32."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
