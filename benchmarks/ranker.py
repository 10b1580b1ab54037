"""Response-ranker benchmark (issue 4) on Schema-Guided Dialogue: train on `train`, report
on `dev` (protocol in ../shared/data/README.md), baselines measured in the same command.

    python benchmarks/ranker.py [--data ../shared/data/sgd] [--out results/ranker-bench]
        [--limit N] [--keep-model]

Every agent turn of `dev` is a test item: context = the turns before it, speaker-tagged,
the last three for the baselines and the transformer alone, as many as the trained ranker
reads (`context_turns` in its manifest) for the ranker and its n-gram encoder;
candidates = the true reply and 99 agent replies drawn at random from `dev` (redrawn
when the text equals the true reply's), the same draws for every method.
Baselines: BM25 (Okapi, k1=1.2, b=0.75, implemented here over scikit-learn's
CountVectorizer, IDF from `train` replies), TF-IDF cosine (scikit-learn, fitted on
`train`), the untouched packaged encoder through the same int8 ONNX path the ranker
serves with. The ranker is trained by `train_ranker`, what `supportbot train` runs, with
its own validation slice carved from `train`; nothing is tuned on `dev`. Its two parts
are also scored alone. Latency: one request at a time, from the context text to the
chosen candidate (encoding included), among the item's 100 candidates, and for the
ranker also among its whole candidate pool.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.ranker import ResponseRanker  # noqa: E402
from retrieval.ranker_encoder import RankerEncoder  # noqa: E402
from retrieval.ranker_rerank import words  # noqa: E402
from retrieval.ranker_text import split_context  # noqa: E402
from training.dialogue_pairs import ReplyPair, extract_pairs  # noqa: E402
from training.importers.dialogues import iter_dialogues  # noqa: E402
from training.problems import ProblemLog  # noqa: E402
from training.ranker_eval import (  # noqa: E402
    SelectionTask,
    selection_score,
    selection_task,
    true_reply_ranks,
)
from training.ranker_trainer import ranker_settings, train_ranker  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sgd"
LATENCY_ITEMS = 300
SEED = 42
Encode = Callable[[list[str]], object]


def load_split(data: Path, split: str, limit: int | None) -> list:
    name = f"{split}.jsonl.gz"
    dialogues = list(iter_dialogues(data / name, name, ProblemLog()))
    return dialogues[:limit] if limit else dialogues


class Bm25:
    """Okapi BM25 of a reply (document) for a context (query): IDF and average length from
    the `train` replies, term frequencies from the reply itself."""

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75):
        self.vectorizer = CountVectorizer().fit(documents)
        counts = self.vectorizer.transform(documents)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        self.idf = np.log1p((counts.shape[0] - df + 0.5) / (df + 0.5))
        self.avgdl = counts.sum() / counts.shape[0]
        self.k1, self.b = k1, b

    def documents(self, texts: list[str]):
        counts = self.vectorizer.transform(texts).tocsr().astype(np.float64)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * lengths / self.avgdl)
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        tf = counts.data
        counts.data = self.idf[counts.indices] * tf * (self.k1 + 1) / (tf + norm[rows])
        return counts

    def queries(self, texts: list[str]):
        queries = self.vectorizer.transform(texts).tocsr().astype(np.float64)
        queries.data[:] = 1.0
        return queries


def measure(name: str, task: SelectionTask, contexts: Encode, replies: Encode) -> dict:
    started = time.monotonic()
    reply_matrix = replies(task.replies)
    score = selection_score(
        true_reply_ranks(task, contexts([p.context for p in task.pairs]), reply_matrix)
    )
    row = {"method": name, **score.to_json(), **latency(task, contexts, reply_matrix)}
    print(f"  {name}: {row} ({time.monotonic() - started:.0f}s)", flush=True)
    return row


def latency(task: SelectionTask, contexts: Encode, reply_matrix) -> dict:
    """Per request: encode one context, score its 100 candidates, take the best."""
    times = []
    for i in latency_items(task):
        started = time.perf_counter()
        vector = contexts([task.pairs[i].context])
        scores = reply_matrix[task.candidates[i]] @ vector.T
        np.argmax(scores.toarray() if hasattr(scores, "toarray") else scores)
        times.append((time.perf_counter() - started) * 1000)
    return percentiles("", times)


def latency_items(task: SelectionTask) -> list[int]:
    return random.Random(SEED).sample(range(len(task.pairs)), min(LATENCY_ITEMS, len(task.pairs)))


def percentiles(prefix: str, times: list[float]) -> dict:
    return {
        f"{prefix}median_ms": round(float(np.median(times)), 2),
        f"{prefix}p90_ms": round(float(np.percentile(times, 90)), 2),
    }


def served_row(name: str, task: SelectionTask, ranker: ResponseRanker) -> dict:
    """The ranker as `supportbot serve` loads it: the encoders' fused score, then its
    re-ranker (when training kept one) over each item's 100 candidates, as
    `ResponseRanker.score` does. Latency per request from the context's turns, among the
    100 and among the whole pool through `ResponseRanker.rank` (which re-ranks the top
    `top_k`), with the server's threads: one ONNX Runtime thread, single-threaded math."""
    started = time.monotonic()
    reply_matrix = ranker.encoder.encode_replies(task.replies)
    contexts = ranker.encoder.encode_contexts([p.context for p in task.pairs])
    reply_words = [words(text) for text in task.replies]

    def scores(i: int, vector: np.ndarray) -> np.ndarray:
        rows = task.candidates[i]
        fused = reply_matrix[rows] @ vector
        if ranker.reranker is None:
            return fused
        chosen = [reply_words[j] for j in rows]
        return ranker.reranker.rescore(task.pairs[i].context, chosen, fused)

    ranks = np.array(
        [1 + int((s[1:] >= s[0]).sum()) for s in map(scores, range(len(contexts)), contexts)]
    )
    times: dict[str, list[float]] = {"": [], "pool_": []}
    with threadpool_limits(limits=1):  # as `supportbot serve` runs (single_threaded_math)
        for i in latency_items(task):
            turns = split_context(task.pairs[i].context)
            started_one = time.perf_counter()
            np.argmax(scores(i, ranker.context(turns).vector))
            times[""].append((time.perf_counter() - started_one) * 1000)
            started_one = time.perf_counter()
            ranker.rank(ranker.context(turns))[0]
            times["pool_"].append((time.perf_counter() - started_one) * 1000)
    row = {"method": name, **selection_score(ranks).to_json()}
    for prefix, values in times.items():
        row.update(percentiles(prefix, values))
    print(f"  {name}: {row} ({time.monotonic() - started:.0f}s)", flush=True)
    return row


def baselines(train: list[ReplyPair], task: SelectionTask, work: Path) -> list[dict]:
    bm25 = Bm25([p.reply for p in train])
    tfidf = TfidfVectorizer(sublinear_tf=True)
    tfidf.fit([p.context for p in train] + [p.reply for p in train])
    base = base_encoder(work)
    return [
        measure("BM25 (Okapi; own code over sklearn counts)", task, bm25.queries, bm25.documents),
        measure("TF-IDF cosine (sklearn)", task, tfidf.transform, tfidf.transform),
        measure("untouched encoder (int8 ONNX)", task, base.encode_contexts, base.encode_replies),
    ]


def base_encoder(work: Path) -> RankerEncoder:
    """The packaged encoder, untouched, exported to int8 ONNX like the ranker is."""
    from retrieval.encoder import base_model_path
    from retrieval.onnx_encoder import export_onnx

    tokens = ranker_settings(SEED).finetune
    export_onnx(base_model_path(), work / "base-onnx", quantize=True)
    return RankerEncoder(
        work / "base-onnx", "onnx", tokens.max_context_tokens, tokens.max_reply_tokens
    )


def ranker_rows(
    dialogues: list, dev: list, task: SelectionTask, work: Path
) -> tuple[list[dict], dict]:
    stage = work / "model"
    stage.mkdir()
    started = time.monotonic()
    trained = train_ranker(dialogues, {}, stage, ranker_settings(SEED), print)
    minutes = (time.monotonic() - started) / 60
    info, metrics = trained.info, trained.metrics
    transformer = RankerEncoder(
        stage / info.onnx, "onnx", info.max_context_tokens, info.max_reply_tokens
    )
    long_pairs = extract_pairs(dev, info.context_turns)
    long_task = SelectionTask(long_pairs, task.replies, task.candidates)
    rows = [
        measure(
            "fine-tuned transformer alone (int8 ONNX)",
            task,
            transformer.encode_contexts,
            transformer.encode_replies,
        ),
    ]
    if trained.ngrams is not None:
        ngrams = trained.ngrams
        rows.append(
            measure(
                "n-gram dual encoder alone",
                long_task,
                ngrams.encode_contexts,
                ngrams.encode_replies,
            )
        )
    ranker = ResponseRanker.load(stage, info, threads=1)  # as BotModel.load serves it
    reranked = " + re-ranker" if ranker.reranker is not None else ""
    name = f"supportbot ranker: transformer + {info.ngram_weight:g} x n-grams{reranked} (served)"
    row = served_row(name, long_task, ranker)
    rows.append({**row, "train_minutes": round(minutes, 1), "pool_size": len(ranker.candidates)})
    summary = {"train_minutes": round(minutes, 1), "min_score": info.min_score}
    return rows, {**metrics, **summary, "context_turns": info.context_turns}


def machine(loads: list[float]) -> list[str]:
    import onnxruntime
    import torch

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    return [
        f"- CPU: {cpu}; nproc {len(os.sched_getaffinity(0))}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, "
        f"onnxruntime {onnxruntime.__version__}",
        "- load average (1 min) at the start, after the baselines, after the ranker: "
        + ", ".join(f"{x:.2f}" for x in loads),
    ]


def report(results: list[dict], training: dict, loads: list[float], args, items: int) -> str:
    lines = (
        [f"**SMOKE RUN (--limit {args.limit}): not a benchmark figure.**\n"] if args.limit else []
    )
    lines.append(
        f"SGD `dev`: {items} agent turns, each ranked among 100 candidates; "
        "context = last 3 turns (baselines, transformer alone); the ranker and its n-gram "
        f"encoder read the last {training['context_turns']}.\n"
    )
    lines.append(
        "| method | recall@1 of 100 | MRR | training time | median ms / choice of 100 | p90 ms |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|")
    for row in results:
        trained = f"{row['train_minutes']:.1f} min" if "train_minutes" in row else "-"
        lines.append(
            f"| {row['method']} | {row['recall_at_1']:.1%} | {row['mrr']:.3f} | {trained} | "
            f"{row['median_ms']:.2f} | {row['p90_ms']:.2f} |"
        )
    served = results[-1]
    if "pool_median_ms" in served:
        lines.append(
            f"\nChoosing among the ranker's whole pool ({served['pool_size']} candidates): "
            f"median {served['pool_median_ms']:.2f} ms, p90 {served['pool_p90_ms']:.2f} ms.\n"
        )
    lines += machine(loads)
    lines.append(f"- ranker training metrics: `{json.dumps(training)}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("results/ranker-bench"))
    parser.add_argument("--limit", type=int, default=None, help="dialogues per split (smoke run)")
    parser.add_argument(
        "--keep-model", action="store_true", help="keep the trained ranker in OUT/model"
    )
    args = parser.parse_args(argv)
    loads = [os.getloadavg()[0]]
    train_dialogues = load_split(args.data, "train", args.limit)
    dev_dialogues = load_split(args.data, "dev", args.limit)
    dev_pairs = extract_pairs(dev_dialogues)
    task = selection_task(dev_pairs, 100, seed=0)
    print(f"dev: {len(dev_pairs)} items", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        results = baselines(extract_pairs(train_dialogues), task, Path(folder))
        loads.append(os.getloadavg()[0])
        rows, training = ranker_rows(train_dialogues, dev_dialogues, task, Path(folder))
        results += rows
        loads.append(os.getloadavg()[0])
        if args.keep_model:
            shutil.copytree(Path(folder) / "model", args.out / "model", dirs_exist_ok=True)
    text = report(results, training, loads, args, len(dev_pairs))
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ranker.md").write_text(text, encoding="utf-8")
    summary = {"results": results, "training": training, "loads": loads, "limit": args.limit}
    (args.out / "ranker.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
