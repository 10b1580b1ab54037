"""The serving encoder in a child process: same vectors, loud failures, restarts, stops."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import numpy as np
import pytest
import sqlite_utils

from bot import messages
from bot.server.model_swap import serving_model
from retrieval.bot_model import BotModel
from retrieval.encoder_process import NICENESS, EncoderProcess
from retrieval.model_dir import read_manifest
from retrieval.onnx_encoder import serving_encoder
from supportbot.errors import ModelError
from supportbot.testing import live_server

TEXTS = ["I lost my card", "how do I reset my password?", "hi", "where is my refund " * 5]


@pytest.fixture(scope="module")
def onnx_dir(tiny_model_dir: Path) -> Path:
    return tiny_model_dir / read_manifest(tiny_model_dir).classifier.onnx


@pytest.fixture(scope="module")
def encoder_process(onnx_dir: Path):
    encoder = EncoderProcess(onnx_dir)
    yield encoder
    encoder.close()


def test_child_gives_the_in_process_encoders_vectors(encoder_process, onnx_dir):
    here = serving_encoder(onnx_dir)
    assert encoder_process.dimension == here.dimension
    assert encoder_process.layers == here.layers
    np.testing.assert_array_equal(encoder_process.encode(TEXTS), here.encode(TEXTS))
    count = here.layers
    np.testing.assert_array_equal(
        encoder_process.encode_layers(TEXTS, count), here.encode_layers(TEXTS, count)
    )
    assert encoder_process.encode([]).shape == (0, here.dimension)


def test_concurrent_callers_each_get_their_own_vectors(encoder_process, onnx_dir):
    here = serving_encoder(onnx_dir)
    batches = [[f"{text} ({number})" for text in TEXTS] for number in range(6)]
    with ThreadPoolExecutor(len(batches)) as callers:
        served = list(callers.map(encoder_process.encode, batches))
    for batch, vectors in zip(batches, served, strict=True):
        np.testing.assert_array_equal(vectors, here.encode(batch))


def test_an_error_in_the_child_reaches_the_caller_and_the_child_goes_on(encoder_process):
    too_many = encoder_process.layers + 1
    with pytest.raises(ModelError, match=f"the intent head reads {too_many} layers"):
        encoder_process.encode_layers(TEXTS, too_many)
    assert encoder_process.encode(["still there"]).shape == (1, encoder_process.dimension)


def test_a_dead_child_fails_its_batch_and_is_started_again(onnx_dir):
    encoder = EncoderProcess(onnx_dir)
    try:
        first = encoder.pid
        os.kill(first, signal.SIGKILL)
        with pytest.raises(ModelError) as failed:
            encoder.encode(TEXTS)
        assert str(failed.value) == (
            f"{onnx_dir}: the encoder process exited (code -9) during a batch; "
            "it is started again for the next one"
        )
        assert encoder.encode(TEXTS).shape == (len(TEXTS), encoder.dimension)
        assert encoder.pid not in (None, first)
    finally:
        encoder.close()


@pytest.mark.skipif(not Path("/proc/self/comm").exists(), reason="Linux /proc only")
def test_the_child_is_named_for_operators(encoder_process):
    comm = Path(f"/proc/{encoder_process.pid}/comm").read_text(encoding="ascii").strip()
    assert comm == "supportbot-enc"


def test_the_child_yields_the_cores_to_the_server(encoder_process):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, encoder_process.pid) == min(ours + NICENESS, 19)


def test_close_stops_the_child(onnx_dir):
    encoder = EncoderProcess(onnx_dir)
    process = encoder._process
    encoder.close()
    assert not process.is_alive()
    assert process.exitcode == 0
    encoder.close()  # twice is fine


def test_a_broken_export_fails_at_start_with_the_childs_reason(tmp_path):
    with pytest.raises(ModelError) as failed:
        EncoderProcess(tmp_path)
    assert str(failed.value) == f"{tmp_path}: model.onnx missing"


def test_the_server_loads_its_model_with_an_encoder_process(tiny_model_dir):
    model = serving_model(tiny_model_dir)
    try:
        assert isinstance(model.encoder, EncoderProcess)
        in_process = BotModel.load(tiny_model_dir)
        assert not isinstance(in_process.encoder, EncoderProcess)
        texts = ["I lost my card", "thanks"]
        served = [a.prediction.intent for a in model.analyse(texts)]
        assert served == [a.prediction.intent for a in in_process.analyse(texts)]
    finally:
        model.encoder.close()


async def test_a_served_turn_whose_encoder_dies_gets_the_apology_and_the_next_turn_an_answer(
    tiny_model_dir, tmp_path
):
    model = BotModel.load(tiny_model_dir, encoder_process=True)
    webhook = "/webhooks/rest/webhook"
    try:
        async with live_server(model, tmp_path / "log.db") as live:
            async with aiohttp.ClientSession() as session:

                async def say(sender: str) -> list[dict]:
                    body = {"sender": sender, "message": "where is my order?"}
                    async with session.post(live.url + webhook, json=body) as response:
                        assert response.status == 200
                        return await response.json()

                answers = {r.text for r in model.responses["order_status"]}
                assert (await say("before"))[0]["text"] in answers
                os.kill(model.encoder.pid, signal.SIGKILL)
                assert [reply["text"] for reply in await say("during")] == [messages.ERROR_APOLOGY]
                assert (await say("after"))[0]["text"] in answers
        logged = sqlite_utils.Database(tmp_path / "log.db")["turns"].rows_where(order_by="id")
        assert [(row["conversation_id"], row["action"]) for row in logged] == [
            ("before", "intent_response"),
            ("during", "error"),
            ("after", "intent_response"),
        ]
    finally:
        model.encoder.close()
