"""Knowledge-retrieval benchmark (issue 5): quality of dense, BM25 and hybrid search on
BANKING77, the approximate index at scale, and incremental knowledge-base updates.

    python benchmarks/retrieval.py quality [--cache results/banking77-vectors.npz]
    python benchmarks/retrieval.py scale --sizes 10000 100000 1000000 [--hnsw 100000]
    python benchmarks/retrieval.py incremental [--base 100000 --add 1000]

quality: BANKING77 `train` questions become question/answer passages in a real kb store
(their intent is the answer key, never indexed as text), `test` questions are the
queries; top-1 answer-key accuracy and recall@5 for each method, in one run. The abstain
threshold is calibrated as `supportbot train` does, on `train` only, then scored on
`test` and on CLINC150 `oos_test` (questions outside every intent). Settings (the
lexical weight) were chosen on `train` with `--tune`, never on `test`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import retrieval_scale  # noqa: E402
from retrieval import hybrid  # noqa: E402
from retrieval.encoder import TextEncoder  # noqa: E402
from retrieval.hybrid import fts_query  # noqa: E402
from retrieval.index import Passage, PassageIndex, SearchSettings  # noqa: E402
from retrieval.kb_store import KnowledgeStore, NewDocument  # noqa: E402
from retrieval.knowledge_base import create_knowledge_base  # noqa: E402
from retrieval.vector_index import (  # noqa: E402
    VectorIndexSettings,
    build_vector_index,
    search_vectors,
)
from supportbot.config import RetrievalConfig  # noqa: E402
from training.retrieval_calibration import calibrate_min_score  # noqa: E402
from training.schema import Example, Source, TrainingData  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DEPTH = 50
TUNE_QUERIES = 1000
WEIGHT_GRID = (0.0, 0.025, 0.05, 0.1, 0.2)


def read_banking(split: str) -> list[tuple[str, str]]:
    with open(DATA / "banking77" / f"{split}.csv", encoding="utf-8") as rows:
        return [(row["text"], row["category"]) for row in csv.DictReader(rows)]


def encoded(texts: list[str], cache: Path | None) -> tuple[np.ndarray, float]:
    """Vectors of `texts` with the packaged encoder; cached by content when asked."""
    key = "v" + hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    if cache and cache.is_file():
        stored = np.load(cache)
        if key in stored:
            return stored[key], float("nan")
    started = time.perf_counter()
    vectors = TextEncoder().encode(texts, batch_size=64)
    rate = len(texts) / (time.perf_counter() - started)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{key: vectors})
    return vectors, rate


def banking_store(work: Path, train: list[tuple[str, str]], vectors: np.ndarray) -> KnowledgeStore:
    passages = [
        Passage("qa", text, "-", f"train.csv:{i + 2}", question=text, key=intent).to_row()
        for i, (text, intent) in enumerate(train)
    ]
    document = NewDocument(
        "banking77/train.csv",
        "training",
        "csv",
        "train.csv",
        passages,
        [[text] for text, _ in train],
        vectors,
    )
    create_knowledge_base(work, "bench", vectors.shape[1], [document], VectorIndexSettings())
    return KnowledgeStore(work)


def ranked(store: KnowledgeStore, texts, vectors, method: str, weight: float = 0.05):
    """Passage ids, best first, per query, for one method."""
    if method == "bm25":
        return [
            [pid for pid, _ in store.lexical(q, DEPTH)] if (q := fts_query(t)) else []
            for t in texts
        ]
    saved = hybrid.IDENTIFIER_WEIGHT
    if method == "dense":
        hybrid.IDENTIFIER_WEIGHT, weight = 0.0, 0.0
    try:
        index = PassageIndex(store, SearchSettings(lexical_weight=weight))
        return [[h.passage_id for h in hits] for hits in index.search(texts, vectors, DEPTH)]
    finally:
        hybrid.IDENTIFIER_WEIGHT = saved


def rrf(dense: list[int], lexical: list[int], k: int = 60) -> list[int]:
    """Reciprocal rank fusion (Cormack et al. 2009), the reference fusion."""
    scores: dict[int, float] = {}
    for ranking in (dense, lexical):
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1 / (k + rank)
    return sorted(scores, key=lambda pid: -scores[pid])


def score(rankings: list[list[int]], keys: dict[int, str], truth: list[str]) -> dict:
    top1 = [bool(r) and keys[r[0]] == t for r, t in zip(rankings, truth, strict=True)]
    at5 = [t in {keys[p] for p in r[:5]} for r, t in zip(rankings, truth, strict=True)]
    return {"top1": round(float(np.mean(top1)), 4), "recall@5": round(float(np.mean(at5)), 4)}


def run_quality(args: argparse.Namespace) -> dict:
    train, test = read_banking("train"), read_banking("test")
    oos = [t for t, _ in json.loads((DATA / "clinc150" / "data_full.json").read_text())["oos_test"]]
    texts = [t for t, _ in train] + [t for t, _ in test] + oos
    vectors, rate = encoded(texts, args.cache)
    train_v, test_v = vectors[: len(train)], vectors[len(train) : len(train) + len(test)]
    oos_v = vectors[len(train) + len(test) :]
    with tempfile.TemporaryDirectory() as work:
        store = banking_store(Path(work), train, train_v)
        keys = {row[0]: row[1] for row in store.db.execute("SELECT id, key FROM passages")}
        test_texts, truth = [t for t, _ in test], [i for _, i in test]
        runs = {m: ranked(store, test_texts, test_v, m) for m in ("dense", "bm25", "hybrid")}
        runs["rrf (reference)"] = [
            rrf(d, b) for d, b in zip(runs["dense"], runs["bm25"], strict=True)
        ]
        result = {"methods": {m: score(r, keys, truth) for m, r in runs.items()}}
        result["index_kind"] = store.meta()["index_kind"]
        result["encode_texts_per_s"] = round(rate, 1)
        result["hybrid_search_ms"] = search_latency(store, test_texts, test_v)
        result["abstain"] = abstain(store, train, test, test_v, oos, oos_v, keys)
        result["ivf_recall_at_10_on_banking77"] = ivf_recall(train_v, test_v)
        if args.tune:
            result["tuning_on_train"] = tune(store, train, train_v, keys)
        store.close()
    return result


def ivf_recall(train_v: np.ndarray, test_v: np.ndarray) -> dict:
    """The approximate index forced on real sentence vectors: recall@10 against exact."""
    ids = np.arange(len(train_v))
    exact = build_vector_index(train_v, ids, train_v.shape[1], VectorIndexSettings(kind="exact"))
    _, truth = search_vectors(exact, test_v, 10, threads=2)
    out = {}
    for nprobe in (8, 16, 32):
        settings = VectorIndexSettings(kind="approximate", nprobe=nprobe)
        ivf = build_vector_index(train_v, ids, train_v.shape[1], settings)
        _, found = search_vectors(ivf, test_v, 10, threads=2)
        out[f"nprobe {nprobe} of {ivf.nlist} lists"] = round(
            retrieval_scale.recall_at_k(found, truth), 4
        )
    return out


def search_latency(store, texts, vectors) -> dict:
    index = PassageIndex(store, SearchSettings())
    times = []
    for text, vector in zip(texts[:500], vectors[:500], strict=True):
        started = time.perf_counter()
        index.search([text], vector[None, :], 3)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median": round(statistics.median(times), 2),
        "p90": round(float(np.percentile(times, 90)), 2),
    }


def abstain(store, train, test, test_v, oos, oos_v, keys) -> dict:
    """Calibrate on train as training does (leave-one-out, bundled off-topic negatives);
    then the share of test answered right, answered wrong, and of oos_test answered."""
    data = TrainingData(examples=[Example(t, i, Source("train.csv")) for t, i in train])
    encode_cache = {t: v for (t, _), v in zip(train, store_vectors(store), strict=True)}
    encoder = TextEncoder()

    def encode(texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in encode_cache]
        for t, v in zip(missing, encoder.encode(missing) if missing else [], strict=True):
            encode_cache[t] = v
        return np.stack([encode_cache[t] for t in texts])

    index = PassageIndex(store, SearchSettings())
    threshold, report = calibrate_min_score(index, encode, data, RetrievalConfig(), seed=42)
    tops = [hits[0] for hits in index.search([t for t, _ in test], test_v, 1)]
    answered = [h.score >= threshold for h in tops]
    right = [
        a and keys[h.passage_id] == i for a, h, (_, i) in zip(answered, tops, test, strict=True)
    ]
    oos_tops = [hits[0] for hits in index.search(oos, oos_v, 1)]
    return {
        "threshold": threshold,
        "calibration": report,
        "test_answered_right": round(float(np.mean(right)), 4),
        "test_answered_wrong": round(float(np.mean(answered) - np.mean(right)), 4),
        "test_precision": round(float(np.sum(right) / max(np.sum(answered), 1)), 4),
        "oos_test_answered": round(float(np.mean([h.score >= threshold for h in oos_tops])), 4),
    }


def store_vectors(store: KnowledgeStore) -> np.ndarray:
    return store.all_vectors(int(store.meta()["dimension"]))[1]


def tune(store, train, train_v, keys) -> dict:
    """Leave-one-out on a sample of train questions: each searched with itself excluded."""
    rng = np.random.default_rng(0)
    sample = rng.choice(len(train), TUNE_QUERIES, replace=False)
    texts, truth = [train[i][0] for i in sample], [train[i][1] for i in sample]
    out = {}
    for weight in WEIGHT_GRID:
        rankings = ranked(store, texts, train_v[sample], "hybrid", weight)
        # A fresh store numbers passages from 1 in file order: drop each question's own.
        rankings = [[p for p in r if p != i + 1] for r, i in zip(rankings, sample, strict=True)]
        out[str(weight)] = score(rankings, keys, truth)
    return out


def run_scale(args: argparse.Namespace) -> dict:
    settings = VectorIndexSettings(nprobe=args.nprobe[0])
    rows = []
    for size in args.sizes:
        rows.append(retrieval_scale.measure_size(size, settings, args.nprobe, args.query_threads))
        print(json.dumps(rows[-1]), flush=True)
    hnsw = [retrieval_scale.hnsw_reference(size) for size in args.hnsw]
    return {"faiss_threads": faiss.omp_get_max_threads(), "sizes": rows, "hnsw": hnsw}


def run_incremental(args: argparse.Namespace) -> dict:
    return retrieval_scale.measure_incremental(args.base, args.add, args.per_document)


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "faiss": faiss.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="also write the JSON result here")
    parser.add_argument("--threads", type=int, help="FAISS threads (default: all cores)")
    commands = parser.add_subparsers(dest="command", required=True)
    quality = commands.add_parser("quality")
    quality.add_argument("--cache", type=Path, help="reuse encoder vectors from this .npz")
    quality.add_argument("--tune", action="store_true", help="lexical weight grid on train")
    scale = commands.add_parser("scale")
    scale.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    scale.add_argument("--nprobe", type=int, nargs="+", default=[32, 16, 64])
    scale.add_argument("--hnsw", type=int, nargs="*", default=[], help="sizes to build HNSW at")
    scale.add_argument("--query-threads", type=int, nargs="+", default=[1, 2])
    incremental = commands.add_parser("incremental")
    incremental.add_argument("--base", type=int, default=100_000)
    incremental.add_argument("--add", type=int, default=1000)
    incremental.add_argument("--per-document", type=int, default=3)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    before = machine()
    started = time.perf_counter()
    result = {"command": args.command, "machine": before}
    result["result"] = globals()[f"run_{args.command}"](args)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
