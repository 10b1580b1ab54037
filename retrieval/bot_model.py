"""A trained bot loaded from its model directory: encoder, intent classifier, retrieval
index and responses, behind one blocking `analyse` call that the runtime batches."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from retrieval.encoder import TextEncoder
from retrieval.index import Hit, Passage, PassageIndex
from retrieval.intent_classifier import (
    ClassifierSettings,
    IntentClassifier,
    IntentPrediction,
    explain,
)
from retrieval.kb_answers import KbAnswers
from retrieval.model_dir import Manifest, read_manifest
from retrieval.ranker import ResponseRanker
from supportbot.errors import ModelError
from supportbot.payloads import payload_name

log = logging.getLogger(__name__)

Settled = Literal["intent", "kb_class"] | None


@dataclass(frozen=True)
class ResponseTemplate:
    text: str
    buttons: tuple[tuple[str, str], ...] = ()
    """(title, payload) pairs."""


@dataclass(frozen=True)
class ClickTarget:
    """What a quick reply's payload was declared to do in the bot definition: answer as an
    intent, start a form, run a custom action, give an article, or give a written reply."""

    kind: str
    value: str
    text: str | None = None
    """For an article: its text as trained (the click is answered without a search)."""
    url: str | None = None


@dataclass(frozen=True)
class Analysis:
    """What the models say about one message."""

    prediction: IntentPrediction
    hits: list[Hit]
    kb_answer: Passage | None = None
    """The live passage of the knowledge-base class the classifier chose, if it chose one
    and the answer is still in the knowledge base."""
    searched: bool = True
    """False when the knowledge base was not searched (`BotModel.analyse`'s `search`):
    `hits` is then empty without meaning that nothing matched."""


class ServedModel(Protocol):
    """What the runtime reads of a trained bot: a `BotModel`, or a holder that swaps a newly
    promoted one in while serving (bot/server/model_swap.py). Each member reads the model
    current at the time of the read."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def version(self) -> str: ...

    @property
    def classifier(self) -> IntentClassifier: ...

    @property
    def responses(self) -> dict[str, list[ResponseTemplate]]: ...

    @property
    def ranker(self) -> ResponseRanker | None: ...

    @property
    def kb_answers(self) -> KbAnswers | None: ...

    @property
    def click_targets(self) -> dict[str, ClickTarget]: ...

    def analyse(self, texts: list[str], search: Sequence[bool] | None = None) -> list[Analysis]: ...

    def explain(self, texts: list[str]) -> list[tuple[IntentPrediction, dict]]: ...

    def kb_passage(self, label: str) -> Passage | None: ...

    def settled_by(self, prediction: IntentPrediction, kb_answer: Passage | None) -> Settled: ...


class BotModel:
    def __init__(
        self,
        manifest: Manifest,
        encoder: TextEncoder,
        classifier: IntentClassifier,
        index: PassageIndex | None,
        responses: dict[str, list[ResponseTemplate]],
        ranker: ResponseRanker | None = None,
        kb_answers: KbAnswers | None = None,
        click_targets: dict[str, ClickTarget] | None = None,
    ):
        self.manifest = manifest
        self.encoder = encoder
        self.classifier = classifier
        self.index = index
        self.responses = responses
        self.ranker = ranker
        """Chooses replies from dialogue context; None when trained without dialogues."""
        self.kb_answers = kb_answers
        """Knowledge-base answers the classifier names as classes; None when it has none."""
        self.click_targets = click_targets or {}
        """Payload name -> what its buttons were declared to do (responses.json)."""

    @property
    def version(self) -> str:
        return self.manifest.version

    @classmethod
    def load(cls, model_dir: Path, *, encoder_process: bool = False) -> BotModel:
        """`encoder_process` runs the ONNX encoder in a child process of its own
        (retrieval/encoder_process.py): what a server under load wants, and only a
        second of start-up cost for anything else."""
        model_dir = Path(model_dir)
        manifest = read_manifest(model_dir)
        info = manifest.classifier
        encoder = load_serving_encoder(model_dir, manifest, in_child=encoder_process)
        settings = ClassifierSettings(
            info.temperature,
            info.oos_threshold,
            info.ambiguity_margin,
            info.similarity_threshold,
            lexical_share=info.lexical_share,
            support_weight=info.support_weight,
            feature_layers=info.feature_layers,
        )
        classifier = IntentClassifier.load(
            model_dir, manifest.labels, settings, lexical=info.lexical is not None
        )
        index = PassageIndex.open(model_dir, manifest.retrieval) if manifest.retrieval else None
        responses_file = model_dir / manifest.responses if manifest.responses else None
        responses = _load_responses(responses_file) if responses_file else {}
        click_targets = _load_click_targets(responses_file) if responses_file else {}
        ranker = None
        if manifest.ranker:
            # One thread, as the classifier's encoder has (serving_encoder): two would spin
            # between operators on the core the event loop needs.
            ranker = ResponseRanker.load(model_dir, manifest.ranker, threads=1)
        kb_answers = (
            KbAnswers.load(model_dir / manifest.kb_answers) if manifest.kb_answers else None
        )
        return cls(
            manifest, encoder, classifier, index, responses, ranker, kb_answers, click_targets
        )

    def explain(self, texts: list[str]) -> list[tuple[IntentPrediction, dict]]:
        """Each message's prediction with the classifier's reasons for it (ranking, nearest
        examples, out-of-scope checks), from one encoder pass."""
        features, predictions = self._classify(texts)
        return [
            (p, explain(self.classifier, f, t, p))
            for f, t, p in zip(features, texts, predictions, strict=True)
        ]

    def classify(self, texts: list[str]) -> list[IntentPrediction]:
        """Intents only, without retrieval: what evaluation and prediction need."""
        return self._classify(texts)[1]

    def encode_features(self, texts: list[str]) -> np.ndarray:
        """What the intent classifier reads: the encoder's last layers it was trained on.
        `classifier.sentence_vectors` takes the sentence vectors out of them."""
        return self.encoder.encode_layers(texts, self.classifier.settings.feature_layers)

    def _classify(self, texts: list[str]) -> tuple[np.ndarray, list[IntentPrediction]]:
        features = self.encode_features(texts)
        return features, self.classifier.predict(features, texts)

    def analyse(self, texts: list[str], search: Sequence[bool] | None = None) -> list[Analysis]:
        """Classify and retrieve for a batch of messages with one encoder pass.

        `search[i]` False leaves message i's knowledge-base search out when its prediction
        settles the reply without it (`settles_reply`): for most messages of a trained
        bot the search would cost more CPU than the classifier and go unused. None
        searches for every message."""
        features, predictions = self._classify(texts)
        index, retrieval = self.index, self.manifest.retrieval
        if index is None or retrieval is None:
            return [Analysis(p, []) for p in predictions]
        if self.kb_answers is not None:
            index.sync()  # a removed or edited answer is not given from an old generation
        kb_answers = [self._kb_answer(p) for p in predictions]
        wanted = [
            i
            for i, (prediction, kb_answer) in enumerate(zip(predictions, kb_answers, strict=True))
            if search is None or search[i] or not self.settles_reply(prediction, kb_answer)
        ]
        hits: list[list[Hit] | None] = [None] * len(texts)
        if wanted:
            vectors = self.classifier.sentence_vectors(features[wanted])
            found = index.search([texts[i] for i in wanted], vectors, retrieval.top_k)
            for i, message_hits in zip(wanted, found, strict=True):
                hits[i] = message_hits
        return [
            Analysis(p, h or [], k, searched=h is not None)
            for p, h, k in zip(predictions, hits, kb_answers, strict=True)
        ]

    def settled_by(self, prediction: IntentPrediction, kb_answer: Passage | None) -> Settled:
        """What answers the message without retrieval's hits, when the dialogue policy has
        not asked a clarifying question: the intent's responses ("intent"), the live answer
        of the knowledge-base class the classifier chose ("kb_class"), or nothing (None).
        The one statement of this rule: the policy decides with it, and `analyse` skips
        the knowledge-base search with it."""
        if prediction.out_of_scope:
            return None
        if prediction.intent in self.responses:
            return "intent"
        return "kb_class" if kb_answer is not None else None

    def settles_reply(self, prediction: IntentPrediction, kb_answer: Passage | None) -> bool:
        """Whether the policy answers without retrieval's hits: an ambiguous prediction may
        end in a clarifying question, or fall through to retrieval."""
        return not prediction.ambiguous and self.settled_by(prediction, kb_answer) is not None

    def _kb_answer(self, prediction: IntentPrediction) -> Passage | None:
        """Looked up here, on the model's thread, not on the event loop: the index lock
        may be held by another batch's search. The caller has synced the index."""
        return None if prediction.out_of_scope else self._class_passage(prediction.intent)

    def kb_passage(self, label: str) -> Passage | None:
        """The live knowledge base's passage for a class the classifier learned; None for
        any other label, or when its answer was removed or edited since training.
        Blocking (it may wait for the index lock): call it off the event loop."""
        if self.index is not None and self.kb_answers is not None:
            self.index.sync()
        return self._class_passage(label)

    def _class_passage(self, label: str) -> Passage | None:
        kb = self.kb_answers
        if kb is None or self.index is None or label not in kb:
            return None
        return self.index.passage_with_answer(kb.answers[label])


def load_serving_encoder(
    model_dir: Path, manifest: Manifest, backend: str | None = None, *, in_child: bool = False
):
    """The int8 ONNX encoder when the model has one (in a child process with `in_child`);
    PyTorch, in-process, when asked (SUPPORTBOT_BACKEND=torch) or when the ONNX export is
    absent."""
    info = manifest.classifier
    backend = backend or os.environ.get("SUPPORTBOT_BACKEND", "onnx")
    if backend not in ("onnx", "torch"):
        raise ModelError(f"SUPPORTBOT_BACKEND: expected 'onnx' or 'torch', got {backend!r}")
    if backend == "onnx" and info.onnx:
        from retrieval.encoder_process import EncoderProcess
        from retrieval.onnx_encoder import serving_encoder

        load = EncoderProcess if in_child else serving_encoder
        return load(model_dir / info.onnx)
    if backend == "onnx":
        log.warning("%s has no ONNX export; serving with PyTorch", model_dir)
    return TextEncoder(model_dir / info.encoder if info.encoder else None)


def _load_responses(path: Path) -> dict[str, list[ResponseTemplate]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        intent: [
            ResponseTemplate(v["text"], tuple((b["title"], b["payload"]) for b in v["buttons"]))
            for v in variants
        ]
        for intent, variants in raw.items()
    }


def _load_click_targets(path: Path) -> dict[str, ClickTarget]:
    """Payload name -> declared target, from the buttons in responses.json (training checked
    that one payload is declared to do one thing)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    targets = {}
    for variants in raw.values():
        for variant in variants:
            for button in variant["buttons"]:
                name = payload_name(button["payload"])
                target = button.get("target")
                if name is not None and target is not None:
                    targets[name] = ClickTarget(
                        target["kind"], target["value"], target.get("text"), target.get("url")
                    )
    return targets
