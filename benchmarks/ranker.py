"""Response-ranker benchmark (issue 4) on Schema-Guided Dialogue: train on `train`, report
on `dev` (protocol in ../shared/data/README.md), baselines measured in the same command.

    python benchmarks/ranker.py [--data ../shared/data/sgd] [--out results/ranker-bench]
        [--limit N]

Every agent turn of `dev` is a test item: context = the three turns before it,
speaker-tagged; candidates = the true reply and 99 agent replies drawn at random from
`dev` (redrawn when the text equals the true reply's), the same draws for every method.
Methods: BM25 (Okapi, k1=1.2, b=0.75, implemented here over scikit-learn's
CountVectorizer, IDF from `train` replies), TF-IDF cosine (scikit-learn, fitted on
`train`), the untouched packaged encoder and the fine-tuned ranker, both through the same
int8 ONNX serving path. The ranker is trained by `train_ranker`, what `supportbot train`
runs, with its own validation slice carved from `train`; nothing is tuned on `dev`.
Latency: one context chosen among 100 candidates, single-threaded request after request,
timed from the context's turns to the chosen index (encoding included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.ranker_encoder import RankerEncoder  # noqa: E402
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


def load_split(data: Path, split: str, limit: int | None) -> list:
    dialogues = list(iter_dialogues(data / f"{split}.jsonl.gz", f"{split}.jsonl.gz", ProblemLog()))
    return dialogues[:limit] if limit else dialogues


class Bm25:
    """Okapi BM25 of a reply (document) for a context (query): IDF and average length from
    the `train` replies, term frequencies from the reply itself."""

    def __init__(self, documents: list[str], k1: float = 1.2, b: float = 0.75):
        self.vectorizer = CountVectorizer(lowercase=True).fit(documents)
        counts = self.vectorizer.transform(documents)
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        self.idf = np.log1p((n - df + 0.5) / (df + 0.5))
        self.avgdl = counts.sum() / n
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
        queries = self.vectorizer.transform(texts).tocsr()
        queries.data[:] = 1.0
        return queries


def lexical_methods(train: list[ReplyPair], task: SelectionTask) -> list[dict]:
    contexts = [p.context for p in task.pairs]
    results = []
    bm25 = Bm25([p.reply for p in train])
    results.append(
        _measure("BM25 (Okapi, own, sklearn counts)", task, bm25.queries, bm25.documents)
    )
    tfidf = TfidfVectorizer(sublinear_tf=True).fit(
        [p.context for p in train] + [p.reply for p in train]
    )
    results.append(_measure("TF-IDF cosine (sklearn)", task, tfidf.transform, tfidf.transform))
    del contexts
    return results


def _measure(name: str, task: SelectionTask, encode_contexts, encode_replies) -> dict:
    started = time.monotonic()
    context_matrix = encode_contexts([p.context for p in task.pairs])
    reply_matrix = encode_replies(task.replies)
    score = selection_score(true_reply_ranks(task, context_matrix, reply_matrix))
    latency = _latency(task, encode_contexts, reply_matrix)
    print(f"  {name}: {score.to_json()} ({time.monotonic() - started:.0f}s)", flush=True)
    return {"method": name, **score.to_json(), **latency}


def _latency(task: SelectionTask, encode_contexts, reply_matrix) -> dict:
    """Per request: encode one context, score its 100 candidates, take the best."""
    items = random.Random(SEED).sample(range(len(task.pairs)), min(LATENCY_ITEMS, len(task.pairs)))
    times = []
    for i in items:
        started = time.perf_counter()
        vector = encode_contexts([task.pairs[i].context])
        scores = reply_matrix[task.candidates[i]] @ vector.T
        np.argmax(scores.toarray() if hasattr(scores, "toarray") else scores)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(float(np.median(times)), 2),
        "p90_ms": round(float(np.percentile(times, 90)), 2),
    }


def encoder_method(name: str, encoder: RankerEncoder, task: SelectionTask) -> dict:
    return _measure(name, task, encoder.encode_contexts, encoder.encode_replies)


def base_encoder(work: Path) -> RankerEncoder:
    """The packaged encoder, untouched, exported to int8 ONNX like the ranker is."""
    from retrieval.encoder import base_model_path
    from retrieval.onnx_encoder import export_onnx

    settings = ranker_settings(SEED).finetune
    export_onnx(base_model_path(), work / "base-onnx", quantize=True)
    return RankerEncoder(
        work / "base-onnx", "onnx", settings.max_context_tokens, settings.max_reply_tokens
    )


def train(dialogues: list, work: Path) -> tuple[RankerEncoder, dict]:
    stage = work / "model"
    stage.mkdir()
    started = time.monotonic()
    trained = train_ranker(
        dialogues, {}, stage, ranker_settings(SEED), lambda line: print(line, flush=True)
    )
    seconds = time.monotonic() - started
    settings = ranker_settings(SEED).finetune
    encoder = RankerEncoder(
        stage / trained.info.onnx, "onnx", settings.max_context_tokens, settings.max_reply_tokens
    )
    return encoder, {
        **trained.metrics,
        "train_seconds_total": round(seconds, 1),
        "min_score": trained.info.min_score,
        "pool": trained.info.count,
    }


def machine(loads: list[float]) -> list[str]:
    import onnxruntime
    import torch

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return [
        f"- CPU: {cpu}; nproc {len(os.sched_getaffinity(0))}",
        f"- Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__}",
        f"- load average (1 min) at each phase: {', '.join(f'{x:.2f}' for x in loads)}",
    ]


def report(results: list[dict], training: dict, loads: list[float], args, dev_items: int) -> str:
    lines = []
    if args.limit:
        lines.append(f"**SMOKE RUN (--limit {args.limit}): not a benchmark figure.**\n")
    lines.append(
        f"SGD dev, {dev_items} agent turns, 1 of 100 candidates, context = last 3 turns.\n"
    )
    lines.append("| method | recall@1 of 100 | MRR | training time | median ms / choice | p90 ms |")
    lines.append("|---|---|---|---|---|---|")
    for row in results:
        trained = row.get("train_minutes")
        lines.append(
            f"| {row['method']} | {row['recall_at_1']:.1%} | {row['mrr']:.3f} | "
            f"{f'{trained:.1f} min' if trained else '-'} | {row['median_ms']:.2f} | "
            f"{row['p90_ms']:.2f} |"
        )
    lines.append("")
    lines += machine(loads)
    lines.append(f"- ranker training: {json.dumps(training)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("results/ranker-bench"))
    parser.add_argument("--limit", type=int, default=None, help="dialogues per split (smoke run)")
    args = parser.parse_args(argv)
    loads = [os.getloadavg()[0]]
    train_dialogues = load_split(args.data, "train", args.limit)
    dev_pairs = extract_pairs(load_split(args.data, "dev", args.limit))
    train_pairs = extract_pairs(train_dialogues)
    task = selection_task(dev_pairs, 100, seed=0)
    print(f"train: {len(train_pairs)} pairs; dev: {len(dev_pairs)} items", flush=True)
    results = lexical_methods(train_pairs, task)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        loads.append(os.getloadavg()[0])
        results.append(encoder_method("untouched encoder (int8 ONNX)", base_encoder(work), task))
        loads.append(os.getloadavg()[0])
        encoder, training = train(train_dialogues, work)
        loads.append(os.getloadavg()[0])
        row = encoder_method("fine-tuned bi-encoder (int8 ONNX)", encoder, task)
        results.append({**row, "train_minutes": training["train_seconds_total"] / 60})
        loads.append(os.getloadavg()[0])
    text = report(results, training, loads, args, len(dev_pairs))
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ranker.md").write_text(text, encoding="utf-8")
    (args.out / "ranker.json").write_text(
        json.dumps({"results": results, "training": training, "loads": loads}, indent=1)
    )


if __name__ == "__main__":
    main()
