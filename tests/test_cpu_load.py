"""A training job takes the cores other work leaves idle, judged by what runs now."""

from __future__ import annotations

import os
import subprocess
import sys

from training import cpu_load

STAT = """cpu  100 5 50 1000 20 3 2 1 0 0
cpu0 50 2 25 500 10 1 1 0 0 0
intr 12345
"""


def test_busy_and_total_jiffies_come_from_the_all_cpu_line():
    assert cpu_load.cpu_times(STAT) == (100 + 5 + 50 + 3 + 2 + 1, 161 + 1000 + 20)


def test_a_process_spinning_on_a_core_takes_that_core_away():
    cores = len(os.sched_getaffinity(0))
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert cpu_load.busy_cores(0.5) >= 0.6
        assert cpu_load.idle_cores(0.5) <= max(1, cores - 1)
    finally:
        spinner.kill()
        spinner.wait()


def test_without_proc_the_load_average_decides(monkeypatch, tmp_path):
    monkeypatch.setattr(cpu_load, "PROC_STAT", tmp_path / "missing")
    assert cpu_load.busy_cores(0.0) == os.getloadavg()[0]
