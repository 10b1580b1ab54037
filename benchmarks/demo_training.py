"""How long `supportbot train` takes on the bundled banking demo, and how well the result
classifies BANKING77's test split. Runs the same code path as the CLI.

    python benchmarks/demo_training.py [--test ../shared/data/banking77/test.csv]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from training.evaluate import evaluate_model
from training.train import train_model

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{cpu}, {torch.get_num_threads()} torch threads, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "banking_demo")
    parser.add_argument(
        "--test", type=Path, default=ROOT.parent / "shared" / "data" / "banking77" / "test.csv"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = Path(scratch) / "model"
        started = time.perf_counter()
        train_model(args.data, model_dir, progress=lambda line: None)
        seconds = time.perf_counter() - started
        summary = evaluate_model(model_dir, args.test, Path(scratch) / "eval")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {machine()}")
    print(
        json.dumps(
            {
                "train_seconds": round(seconds, 1),
                "peak_rss_mb": round(peak_mb),
                **{k: v for k, v in summary.items() if k != "report"},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
