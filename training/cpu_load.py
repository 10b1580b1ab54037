"""How many cores a training job can use without fighting other work for them.

PyTorch's OpenMP threads meet at a barrier after every operator, so on a saturated
machine one descheduled thread stalls the others: measured here, a training step ran 14
times slower with 2 threads than with 1 on 2 cores at load 7. A job therefore takes the
cores other work leaves idle.

Busy cores are read from /proc/stat over a short window while the calling thread sleeps,
not from the 1-minute load average: that average still counts this process's own work of
the last minute, so the ranker benchmark's baselines, run just before its training, made
the ranker train on one thread of an otherwise idle 2-core machine. Without /proc the
load average is the fallback.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from retrieval.onnx_encoder import usable_cores

PROC_STAT = Path("/proc/stat")
BUSY_FIELDS = (0, 1, 2, 5, 6, 7)
"""user, nice, system, irq, softirq, steal; idle and iowait (3, 4) are not busy."""


def idle_cores(window_seconds: float = 1.0) -> int:
    """Usable cores minus the cores busy with other work now, at least one."""
    cores = usable_cores()
    return max(1, min(cores, math.floor(cores - busy_cores(window_seconds) + 0.5)))


def busy_cores(window_seconds: float = 1.0) -> float:
    """Cores' worth of CPU time the whole machine spent busy over the window."""
    try:
        before = cpu_times(PROC_STAT.read_text(encoding="ascii"))
        time.sleep(window_seconds)
        after = cpu_times(PROC_STAT.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return os.getloadavg()[0]
    busy, total = after[0] - before[0], after[1] - before[1]
    return (os.cpu_count() or 1) * busy / total if total > 0 else 0.0


def cpu_times(stat: str) -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from the text of /proc/stat."""
    line = next(line for line in stat.splitlines() if line.startswith("cpu "))
    values = [int(v) for v in line.split()[1:]]
    busy = sum(values[i] for i in BUSY_FIELDS if i < len(values))
    return busy, busy + values[3] + (values[4] if len(values) > 4 else 0)
