"""A cache of int8 ONNX exports of unchanged encoders, so retraining does not export again.

A frozen-mode model serves the packaged base encoder, and its export (trace, fusion,
quantisation: about 8 s on 2 cores) comes out the same every time for the same source
files, layer count and library versions. Those make the cache key. A fine-tuned encoder
is new in every training run and is exported as before. The cache lives in
`$SUPPORTBOT_CACHE` (default `~/.cache/supportbot`); when it cannot be written, training
exports as it would without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from retrieval.model_dir import sha256_file
from retrieval.onnx_encoder import ONNX_FILE, OPSET, export_onnx

SOURCE_FILES = ("config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json")
"""What the export reads that can change: the weights, architecture and tokenizer."""
LIBRARIES = ("torch", "transformers", "onnx", "onnxruntime")


def cache_root() -> Path:
    configured = os.environ.get("SUPPORTBOT_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "supportbot"


def export_key(source: Path, layers: int) -> str:
    """Digest of the source files' contents, the export settings and library versions."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    for name in SOURCE_FILES:
        path = source / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + sha256_file(path).encode() + b"\0")
    settings = {"layers": layers, "opset": OPSET, "quantize": True, "fuse": True}
    settings.update({name: version(name) for name in LIBRARIES})
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def cached_export(
    source: Path, out_dir: Path, layers: int, progress: Callable[[str], None]
) -> None:
    """`export_onnx(source, out_dir, quantize=True, layers=layers)`, from the cache when
    an identical export is there; a new export is added to it."""
    entry = cache_root() / "encoder-onnx" / export_key(source, layers)
    if (entry / ONNX_FILE).is_file():
        progress(f"  the same encoder export is cached ({entry}); reusing it")
        shutil.copytree(entry, out_dir, dirs_exist_ok=True)
        return
    export_onnx(source, out_dir, quantize=True, layers=layers)
    _store(out_dir, entry, progress)


def _store(export: Path, entry: Path, progress: Callable[[str], None]) -> None:
    """Copy a finished export into the cache under a temporary name, then rename: a
    reader never sees half an entry. Failing to cache is not failing to train."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=entry.parent))
        shutil.copytree(export, staging, dirs_exist_ok=True)
        try:
            os.replace(staging, entry)
        except OSError:  # another run cached the same export first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        progress(f"  warning: could not cache the encoder export in {entry.parent} ({error})")
