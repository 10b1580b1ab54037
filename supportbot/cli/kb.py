"""`supportbot kb add|remove|list|search`: a trained bot's knowledge base from the terminal.

Changes go straight into the model directory's kb store; a server running on that
directory picks them up on its next message, without a restart. `add` and `remove` import
training code (importers, the PyTorch encoder); `list` and `search` need only retrieval.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from supportbot.cli.arguments import model_argument
from supportbot.cli.types import int_at_least
from supportbot.errors import ModelError

if TYPE_CHECKING:
    from retrieval.kb_store import KnowledgeStore
    from retrieval.knowledge_base import UpdateResult

SNIPPET_CHARS = 160


def register(commands: argparse._SubParsersAction) -> None:
    kb = commands.add_parser("kb", help="manage a trained bot's knowledge base")
    actions = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add", help="add or replace documents: Markdown, text, question,answer CSV, or folders"
    )
    add.add_argument("paths", type=Path, nargs="+", metavar="FILE")
    add.add_argument("--name", help="document name for a single file (default: its file name)")
    remove = actions.add_parser("remove", help="remove documents by name")
    remove.add_argument("names", nargs="+", metavar="NAME")
    listing = actions.add_parser("list", help="the documents, with passage counts")
    search = actions.add_parser("search", help="what the bot would retrieve for a question")
    search.add_argument("query")
    search.add_argument("-k", "--top-k", type=int_at_least(1), default=5)
    for action in (add, remove, listing, search):
        model_argument(action)
    for action in (listing, search):
        action.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for action, run in (
        (add, run_add),
        (remove, run_remove),
        (listing, run_list),
        (search, run_search),
    ):
        action.set_defaults(run=run)


def run_add(args: argparse.Namespace) -> int:
    from training.kb_manager import add_documents

    result = add_documents(args.model, args.paths, args.name, progress=print)
    _report(result, args.model)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from training.kb_manager import remove_documents

    _report(remove_documents(args.model, args.names), args.model)
    return 0


def run_list(args: argparse.Namespace) -> int:
    store = _open(args.model)
    try:
        documents = store.documents()
        summary = _summary(store)
    finally:
        store.close()
    if args.json:
        rows = [d.__dict__ for d in documents]
        print(json.dumps({"documents": rows, **summary}, indent=2))
        return 0
    width = max([len(d.name) for d in documents] + [4])
    print(f"{'NAME':{width}}  ORIGIN    FORMAT     PASSAGES  ADDED")
    for d in documents:
        print(f"{d.name:{width}}  {d.origin:8}  {d.format:9}  {d.passages:8}  {d.added_at}")
    print(_summary_line(summary))
    return 0


def run_search(args: argparse.Namespace) -> int:
    from retrieval.bot_model import load_serving_encoder
    from retrieval.index import PassageIndex
    from retrieval.model_dir import read_manifest

    manifest = read_manifest(args.model)
    info = _retrieval(manifest, args.model)
    index = PassageIndex.open(args.model, info)
    try:
        encoder = load_serving_encoder(args.model, manifest)
        [hits] = index.search([args.query], encoder.encode([args.query]), args.top_k)
    finally:
        index.store.close()
    if args.json:
        rows = [{**h.to_json(), "answer": h.passage.answer} for h in hits]
        print(json.dumps({"min_score": info.min_score, "hits": rows}, indent=2))
        return 0
    if not hits:
        print("no passages in the knowledge base")
    for rank, hit in enumerate(hits, start=1):
        below = hit.score < info.threshold_for(hit.passage.kind)
        verdict = "  (below the abstain threshold)" if below else ""
        print(f"{rank}. {hit.score:.3f}  {hit.passage.title}  [{hit.passage.source}]{verdict}")
        snippet = textwrap.shorten(hit.passage.answer, SNIPPET_CHARS, placeholder=" ...")
        print(textwrap.indent(textwrap.fill(snippet, 88), "   "))
    articles = info.threshold_for("article")
    also = f" (a help article: {articles})" if articles != info.min_score else ""
    print(f"the bot answers from a hit scoring at least {info.min_score}{also}")
    return 0


def _report(result: UpdateResult, model_dir) -> None:
    for verb, names in (("added", result.added), ("replaced", result.replaced)):
        for name in names:
            print(f"{verb} {name}")
    for name in result.removed:
        print(f"removed {name}")
    store = _open(model_dir)
    try:
        summary = _summary(store)
    finally:
        store.close()
    rebuilt = ", index rebuilt" if result.rebuilt else ""
    print(f"{_summary_line(summary)} ({result.seconds:.2f}s{rebuilt})")


def _open(model_dir) -> KnowledgeStore:
    from retrieval.knowledge_base import open_store
    from retrieval.model_dir import read_manifest

    manifest = read_manifest(model_dir, verify=False)
    return open_store(model_dir, _retrieval(manifest, model_dir), readonly=True)


def _retrieval(manifest, model_dir):
    if manifest.retrieval is None:
        raise ModelError(f"{model_dir}: this model has no knowledge base; retrain it")
    return manifest.retrieval


def _summary(store: KnowledgeStore) -> dict:
    documents, passages, vectors = store.counts()
    meta = store.meta()
    return {
        "document_count": documents,
        "passage_count": passages,
        "vector_count": vectors,
        "index": meta.get("index_kind", "exact"),
        "generation": int(meta.get("generation", 0)),
    }


def _summary_line(summary: dict) -> str:
    return (
        f"knowledge base: {summary['document_count']} document(s), "
        f"{summary['passage_count']} passage(s), {summary['vector_count']} vector(s); "
        f"{summary['index']} index, generation {summary['generation']}"
    )
