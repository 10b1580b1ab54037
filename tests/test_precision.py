"""Mixed precision for fine-tuning: when bf16 is chosen, and that it really computes in it
while the loss and the gradients stay float32."""

from __future__ import annotations

import pytest
import torch

from training import precision
from training.dialogue_pairs import ReplyPair
from training.precision import autocast, cpu_has_native_bf16, resolve_precision
from training.ranker_finetune import FinetuneSettings, batch_loss, ranker_tokenizers

XEON_FLAGS = "flags\t\t: fpu vme avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
OLD_FLAGS = "flags\t\t: fpu vme avx2 avx512f avx512bw\n"


@pytest.fixture
def cpuinfo(tmp_path, monkeypatch):
    path = tmp_path / "cpuinfo"
    monkeypatch.setattr(precision, "CPUINFO", path)
    return path


@pytest.mark.parametrize(
    ("flags", "native"),
    [(XEON_FLAGS, True), (OLD_FLAGS, False), ("processor\t: 0\n", False)],
)
def test_native_bf16_is_read_from_the_cpu_flags(cpuinfo, flags, native):
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: x\n" + flags)
    assert cpu_has_native_bf16() is native
    assert resolve_precision("auto") == ("bf16" if native else "fp32")


def test_without_cpuinfo_auto_keeps_fp32_and_an_explicit_choice_stands(cpuinfo):
    assert not cpuinfo.exists()
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    cpuinfo.write_text(XEON_FLAGS)
    assert resolve_precision("fp32") == "fp32"


@pytest.mark.parametrize(("chosen", "dtype"), [("bf16", torch.bfloat16), ("fp32", torch.float32)])
def test_autocast_computes_linear_layers_in_the_chosen_format(chosen, dtype):
    layer = torch.nn.Linear(4, 3)
    with autocast(chosen):
        assert layer(torch.ones(2, 4)).dtype == dtype


def test_a_bf16_ranker_step_keeps_the_loss_and_gradients_float32_and_close_to_fp32():
    from sentence_transformers import SentenceTransformer

    from retrieval.encoder import base_model_path

    model = SentenceTransformer(str(base_model_path()), device="cpu", local_files_only=True)
    transformer = model[0].auto_model.train()
    tokenizers = ranker_tokenizers(FinetuneSettings())
    batch = [
        ReplyPair("customer: where is my parcel?", "It ships tomorrow.", "a"),
        ReplyPair("customer: can I pay by card?", "Yes, we take every card.", "b"),
        ReplyPair("customer: cancel my order please", "Done, it is cancelled.", "c"),
    ]
    torch.manual_seed(0)  # dropout draws the same masks in both runs
    reference = batch_loss(transformer, tokenizers, batch, 20.0, "fp32")
    torch.manual_seed(0)
    loss = batch_loss(transformer, tokenizers, batch, 20.0, "bf16")
    loss.backward()
    assert loss.dtype == torch.float32
    assert abs(loss.item() - reference.item()) < 0.05 * reference.item()
    weight = transformer.encoder.layer[0].attention.self.query.weight
    assert weight.grad is not None and weight.grad.dtype == torch.float32
