"""The intent benchmark script end to end on a small BANKING77 sample (slow: trains a model)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BANKING77 = ROOT.parent / "shared" / "data" / "banking77"


@pytest.mark.slow
@pytest.mark.skipif(not (BANKING77 / "train.csv").is_file(), reason="shared BANKING77 absent")
def test_intent_benchmark_smoke_run_scores_every_method(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("intent_bench", ROOT / "benchmarks" / "intent.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up while being defined
    spec.loader.exec_module(bench)

    bench.main(["--datasets", "banking77", "--limit", "300", "--out", str(tmp_path)])

    results = json.loads((tmp_path / "intent.json").read_text(encoding="utf-8"))
    methods = results["datasets"]["banking77"]["methods"]
    assert set(methods) == {"tfidf_lr", "frozen_lr", "supportbot"}
    for method in methods.values():
        assert 0.0 <= method["accuracy"] <= 1.0
        assert 0.0 <= method["top_intent_accuracy"] <= 1.0
    assert "SMOKE RUN (limit=300)" in (tmp_path / "intent.md").read_text(encoding="utf-8")
