"""The response ranker's encoder, tokenised the way it was trained.

Contexts keep their end (left truncation: the latest turn matters most), replies their
beginning. One tokeniser (`tokenizers`, from the model's tokenizer.json) serves training,
the ONNX Runtime path and the PyTorch path alike, so all three see the same tokens.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retrieval.onnx_encoder import mean_pool_normalise
from supportbot.errors import ModelError

TOKENIZER_FILE = "tokenizer.json"


def make_tokenizer(model_dir: Path, max_length: int, direction: str):
    """A tokeniser that truncates to `max_length` tokens from `direction` and pads to the
    longest text of a batch (tokenizer.json ships with fixed padding to 128)."""
    from tokenizers import Tokenizer

    path = Path(model_dir) / TOKENIZER_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir}: {TOKENIZER_FILE} missing")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_length, direction=direction)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    return tokenizer


def tokenize(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:
    encodings = tokenizer.encode_batch(texts) if len(texts) > 1 else [tokenizer.encode(texts[0])]
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    return {
        "input_ids": ids,
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.zeros_like(ids),
    }


class RankerEncoder:
    """Contexts and replies to L2-normalised vectors, on ONNX Runtime (int8) or PyTorch."""

    def __init__(
        self,
        model_dir: Path,
        backend: str,
        max_context_tokens: int,
        max_reply_tokens: int,
        threads: int | None = None,
    ):
        self.path = Path(model_dir)
        self.backend = backend
        self.contexts = make_tokenizer(self.path, max_context_tokens, "left")
        self.replies = make_tokenizer(self.path, max_reply_tokens, "right")
        if backend == "onnx":
            from retrieval.onnx_encoder import OnnxEncoder

            self._onnx = OnnxEncoder(self.path, threads)
            self.dimension = self._onnx.dimension
            # Dynamic int8 scales activations per tensor: batching would make a text's
            # vector depend on its neighbours, so quantised graphs run one text at a time.
            self.batch_size = 1 if self._onnx.quantized else 32
        elif backend == "torch":
            self._torch = _load_torch(self.path)
            self.dimension = int(self._torch.config.hidden_size)
            self.batch_size = 32
        else:
            raise ModelError(f"ranker backend: expected 'onnx' or 'torch', got {backend!r}")

    @property
    def onnx_threads(self) -> int | None:
        """ONNX Runtime intra-op threads per encoding; None on PyTorch."""
        if self.backend != "onnx":
            return None
        return self._onnx.session.get_session_options().intra_op_num_threads

    def encode_contexts(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.contexts, texts)

    def encode_replies(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.replies, texts)

    def _encode(self, tokenizer, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            feeds = tokenize(tokenizer, [texts[i] for i in rows])
            out[rows] = mean_pool_normalise(self._run(feeds), feeds["attention_mask"])
        return out

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        if self.backend == "onnx":
            return self._onnx.run(feeds)
        import torch

        with torch.inference_mode():
            tensors = {k: torch.from_numpy(v) for k, v in feeds.items()}
            return self._torch(**tensors).last_hidden_state.numpy()


def _load_torch(path: Path):
    from transformers import AutoModel

    if not (path / "config.json").is_file():
        raise ModelError(f"{path}: not a transformer model directory (config.json missing)")
    return AutoModel.from_pretrained(str(path), local_files_only=True).eval()
