"""The sentence encoder on ONNX Runtime, with int8 weights, for low-latency serving.

`export_onnx` turns a sentence-transformers model directory into an ONNX directory
(transformer graph + tokenizer files); `OnnxEncoder` reproduces `TextEncoder.encode`
(mean pooling over real tokens, then L2 normalisation) on top of it. BERT graphs get
ONNX Runtime's transformer fusions (one Attention node per layer, fused embedding and
LayerNorm) before int8 quantisation, which roughly halves single-message latency.
Export needs torch; serving needs only onnxruntime, tokenizers and numpy, so
`TextEncoder` stays the fallback.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from supportbot.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime as ort

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ONNX_FILE = "model.onnx"
LAST_HIDDEN_STATE = "last_hidden_state"
EXPORT_MANIFEST = "onnx_export.json"
OPSET = 17
# Files `OnnxEncoder` reads; the first group must exist in the source model directory.
_REQUIRED_SOURCE_FILES = ("config.json", "tokenizer.json", "sentence_bert_config.json")
_OPTIONAL_SOURCE_FILES = (
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "1_Pooling/config.json",
)
_REQUIRED_ONNX_FILES = (
    ONNX_FILE,
    EXPORT_MANIFEST,
    "config.json",
    "tokenizer.json",
    "sentence_bert_config.json",
)


def _require(directory: Path, names: tuple[str, ...]) -> None:
    """Fail loudly, naming the first missing file, instead of loading a partial model."""
    if not directory.is_dir():
        raise ModelError(f"{directory}: model directory does not exist")
    for name in names:
        if not (directory / name).is_file():
            raise ModelError(f"{directory}: {name} missing")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})") from exc


def _max_seq_length(st_config: dict, config: dict) -> int:
    """sentence-transformers < 6 records it; 6 leaves it to the model's position limit."""
    if "max_seq_length" in st_config:
        return int(st_config["max_seq_length"])
    return int(config.get("max_position_embeddings", 512))


_SUPPORTED_MODULES = {"Transformer", "Pooling", "Normalize"}


def _check_architecture(model_dir: Path) -> None:
    """OnnxEncoder reproduces Transformer -> mean Pooling -> Normalize only; refuse anything else.

    A Dense layer or CLS pooling exported without complaint would serve wrong vectors.
    """
    modules_file = model_dir / "modules.json"
    if modules_file.is_file():
        kinds = {m.get("type", "").rsplit(".", 1)[-1] for m in _read_json(modules_file)}
        if not kinds <= _SUPPORTED_MODULES:
            raise ModelError(
                f"{modules_file}: unsupported modules {sorted(kinds - _SUPPORTED_MODULES)}"
            )
    pooling_file = model_dir / "1_Pooling" / "config.json"
    if pooling_file.is_file():
        pooling = _read_json(pooling_file)
        if pooling.get("pooling_mode") is not None:  # sentence-transformers >= 6
            modes = [str(pooling["pooling_mode"])]
            mean = ["mean"]
        else:
            modes = sorted(k for k, v in pooling.items() if k.startswith("pooling_mode") and v)
            mean = ["pooling_mode_mean_tokens"]
        if modes != mean:
            raise ModelError(f"{pooling_file}: only mean pooling is supported, found {modes}")


def _export_fp32(
    model_dir: Path, onnx_path: Path, attention: str | None = "eager", layers: int = 1
) -> list[str]:
    """Trace the transformer to ONNX; returns the graph input names.

    Outputs `last_hidden_state` and, when `layers` > 1, the `layers - 1` layers before it
    (`inner_layer_1` is the one just before the last), for the intent head's features.
    Eager attention traces to the MatMul/Softmax pattern ONNX Runtime's BERT fusions
    recognise; the SDPA trace (transformers' default, `attention=None`) fuses nothing.
    """
    import inspect

    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation=attention
    ).eval()
    accepted = inspect.signature(model.forward).parameters
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in accepted]

    outputs = [LAST_HIDDEN_STATE, *(inner_layer_output(i) for i in range(1, layers))]

    class _HiddenStates(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
            inputs = dict(zip(names, tensors, strict=True))
            if layers == 1:
                return (self.inner(**inputs).last_hidden_state,)
            hidden = self.inner(**inputs, output_hidden_states=True).hidden_states
            return (hidden[-1], *(hidden[-1 - i] for i in range(1, layers)))

    # Batch 2 x length 8 with one padded row, so the mask path is traced, not folded away.
    example = torch.ones((2, 8), dtype=torch.long)
    mask = example.clone()
    mask[1, 5:] = 0
    args = {"input_ids": example, "attention_mask": mask, "token_type_ids": example * 0}
    dynamic_axes = {n: {0: "batch", 1: "sequence"} for n in [*names, *outputs]}
    with torch.no_grad(), warnings.catch_warnings():
        # The legacy TorchScript exporter: the dynamo one needs onnxscript, not installed here.
        # Its trace warnings concern shape checks that hold for every tokenizer output; the
        # tests compare the exported graph with PyTorch from 3 to 256 tokens instead.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            _HiddenStates(model),
            tuple(args[n] for n in names),
            str(onnx_path),
            input_names=names,
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    return names


def inner_layer_output(offset: int) -> str:
    """The graph output holding the hidden state `offset` layers before the last."""
    return f"inner_layer_{offset}"


# ONNX Runtime's transformer optimiser knows these architectures' graphs.
_FUSABLE_MODEL_TYPES = {"bert"}


def _fuse_transformer(onnx_path: Path, config: dict) -> dict[str, int] | None:
    """Rewrite `onnx_path` in place with fused Attention/LayerNorm/Gelu/embedding nodes.

    Python fusions only (opt_level 0), so the file stays portable and the export
    deterministic; ONNX Runtime applies its own CPU-specific rewrites at load. Returns the
    fused-operator counts, or None when the architecture is not one the optimiser knows.
    """
    if config.get("model_type") not in _FUSABLE_MODEL_TYPES:
        return None
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(onnx_path),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=0,
    )
    optimized.save_model_to_file(str(onnx_path))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def _quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8: weights quantised per output channel, activations at run time.

    MatMul and fused Attention (its Q/K/V projection) are quantised: that is where the
    time goes; left in fp32, the Attention projection makes the fused graph slower than the
    unfused int8 one. int8 embedding tables (Gather) cost accuracy and save no CPU time.
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser advises shape pre-processing on the root logger for every model; it
    # matters for static quantisation of CNNs, not here, and reads like a failure.
    logging.disable(logging.WARNING)
    try:
        quantize_dynamic(
            str(fp32_path),
            str(int8_path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            # Shape inference cannot type the outputs of fused (com.microsoft) nodes.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        logging.disable(logging.NOTSET)


def export_onnx(
    model_dir: Path, out_dir: Path, quantize: bool = True, *, fuse: bool = True, layers: int = 1
) -> Path:
    """Export a sentence-transformers model directory to `out_dir/model.onnx` plus tokenizer.

    The model is written under a temporary name and renamed last, so `model.onnx`
    existing means the directory is complete. `fuse=False` writes the unfused default trace
    served before fusion, kept for benchmarks to compare against. `layers` > 1 also
    outputs that many last layers for `OnnxEncoder.encode_layers`. Returns the .onnx path.
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    _require(model_dir, _REQUIRED_SOURCE_FILES)
    _check_architecture(model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir))
    try:
        fp32_path = work / "fp32.onnx"
        config = _read_json(model_dir / "config.json")
        _check_layers(layers, config, model_dir)
        if fuse:
            inputs = _export_fp32(model_dir, fp32_path, layers=layers)
            fused = _fuse_transformer(fp32_path, config)
        else:  # exactly the export that predates fusion
            inputs = _export_fp32(model_dir, fp32_path, attention=None, layers=layers)
            fused = None
        final = fp32_path
        if quantize:
            final = work / "int8.onnx"
            _quantize_int8(fp32_path, final)
        # From here on the directory is incomplete until the final rename.
        (out_dir / ONNX_FILE).unlink(missing_ok=True)
        for name in _REQUIRED_SOURCE_FILES + _OPTIONAL_SOURCE_FILES:
            if (model_dir / name).is_file():
                (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(model_dir / name, out_dir / name)
        manifest = {
            "source": str(model_dir),
            "inputs": inputs,
            "layers": layers,
            "opset": OPSET,
            "fused_operators": fused,
            "quantized": quantize,
            "quantization": "dynamic int8, QInt8 per-channel weights, MatMul and Attention"
            if quantize
            else None,
        }
        (out_dir / EXPORT_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(final, out_dir / ONNX_FILE)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out_dir / ONNX_FILE


def _check_layers(layers: int, config: dict, model_dir: Path) -> None:
    available = int(config.get("num_hidden_layers", 0))
    if not 1 <= layers <= available:
        raise ModelError(
            f"{model_dir}: cannot export its last {layers} layers; the model has {available}"
        )


def usable_cores() -> int:
    """Cores this process may run on (a container's CPU set), not the host's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def serving_encoder(onnx_dir: Path) -> OnnxEncoder:
    """The encoder as the server runs it: one intra-op thread per run, one run per core.

    Inside the server the event loop (HTTP, moderation, logging) shares the cores. A
    session with 2 intra-op threads spun its worker between operators on the core the
    loop needed: the server burned 36-46 ms of CPU per request at concurrency 1. One
    thread per run, and a batch's texts run side by side, keeps every core busy under load
    and leaves the loop a core when a message comes alone.
    """
    return OnnxEncoder(onnx_dir, threads=1, parallel_runs=usable_cores())


def _session_options(threads: int | None) -> ort.SessionOptions:
    """Latency-first CPU settings: one request at a time, every usable core on each operator.

    Worker threads spin briefly between operators (ONNX Runtime's default, kept explicit):
    with 2 cores, waking sleeping threads per node costs ~1 ms per message.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    return options


class OnnxEncoder:
    """Drop-in for `TextEncoder` on ONNX Runtime: same vectors within int8 error, a few ms each.

    Dynamic int8 quantises activations with one scale per tensor, so in a padded batch a
    text's vector depends on its neighbours (cosine to its solo vector drops to ~0.99, worst
    seen 0.95). By default a quantised model therefore runs each text on its own
    (`batch_invariant`), which costs ~10-20% throughput and keeps answers reproducible.
    """

    def __init__(
        self,
        onnx_dir: Path,
        threads: int | None = None,
        *,
        batch_invariant: bool | None = None,
        parallel_runs: int = 1,
    ):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.path = Path(onnx_dir)
        _require(self.path, _REQUIRED_ONNX_FILES)
        config = _read_json(self.path / "config.json")
        st_config = _read_json(self.path / "sentence_bert_config.json")
        export = _read_json(self.path / EXPORT_MANIFEST)
        self.quantized = bool(export.get("quantized"))
        self.layers = int(export.get("layers", 1))
        """How many last layers `encode_layers` can return (the export's outputs)."""
        self.batch_invariant = self.quantized if batch_invariant is None else batch_invariant
        self.dimension = int(config["hidden_size"])
        self.max_seq_length = _max_seq_length(st_config, config)

        self.tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
        # tokenizer.json ships with fixed padding to 128; pad to the longest text instead.
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad_id = int(config.get("pad_token_id") or 0)
        pad_token = self.tokenizer.id_to_token(pad_id) or "[PAD]"
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

        self.session = ort.InferenceSession(
            str(self.path / ONNX_FILE),
            sess_options=_session_options(threads),
            providers=["CPUExecutionProvider"],
        )
        self._input_names = [i.name for i in self.session.get_inputs()]
        self._runners = (
            ThreadPoolExecutor(parallel_runs, thread_name_prefix="encoder")
            if parallel_runs > 1
            else None
        )
        """Texts encoded one per run go `parallel_runs` at a time (a session may run
        concurrently): a server gives each run one thread, so a lone message leaves a core
        to the event loop while a batch of messages still uses every core."""
        if self._runners is not None:
            weakref.finalize(self, self._runners.shutdown, wait=False)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text, in input order."""
        return self.encode_layers(texts, 1, batch_size)

    def encode_layers(self, texts: list[str], count: int, batch_size: int = 64) -> np.ndarray:
        """Per text, the last `count` layers mean-pooled and L2-normalised, side by side,
        earliest first: the last `dimension` columns are `encode`'s vector."""
        if count > self.layers:
            raise ModelError(
                f"{self.path}: the intent head reads {count} layers but this export "
                f"outputs {self.layers}; retrain the model"
            )
        if not texts:
            return np.zeros((0, self.dimension * count), dtype=np.float32)
        run = partial(self._encode_batch, count=count)
        if self.batch_invariant:
            if self._runners is not None and len(texts) > 1:
                return np.vstack(list(self._runners.map(run, [[t] for t in texts])))
            batch_size = 1
        # Sort by length so each batch pads little; rows go back to input order on the way out.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dimension * count), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = run([texts[i] for i in rows])
        return out

    def tokenize(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Token ids, mask and type ids, right-padded to the longest text (as the fused
        attention assumes); the mask is also what pooling averages over."""
        # One text needs no padding and no batch tokeniser; that is the serving hot path.
        if len(texts) == 1:
            encodings = [self.tokenizer.encode(texts[0])]
        else:
            encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        return {
            "input_ids": ids,
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.zeros_like(ids),
        }

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The transformer's last hidden state for `tokenize`'s output."""
        return self.run_layers(feeds, 1)[0]

    def run_layers(self, feeds: dict[str, np.ndarray], count: int) -> list[np.ndarray]:
        """The last `count` hidden states, earliest first."""
        names = [inner_layer_output(i) for i in range(count - 1, 0, -1)] + [LAST_HIDDEN_STATE]
        return list(self.session.run(names, {n: feeds[n] for n in self._input_names}))

    def _encode_batch(self, texts: list[str], count: int) -> np.ndarray:
        feeds = self.tokenize(texts)
        mask = feeds["attention_mask"]
        if count == 1:
            return mean_pool_normalise(self.run(feeds), mask)
        return np.hstack([mean_pool_normalise(h, mask) for h in self.run_layers(feeds, count)])


def mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) + Normalize: average real tokens, unit length."""
    mask = attention_mask[:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
