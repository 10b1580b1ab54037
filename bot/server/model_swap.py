"""Hot swap: a running server moves to a newly promoted model without a restart and
without failing a request.

`ModelHolder` stands in for the `BotModel` everywhere the runtime holds one. Each call reads
the current model once, so a batch already in the model thread finishes on the model it
started with while the next batch uses the new one. The new model is loaded off the event
loop, completely, before the swap; a version that fails to load is logged and the old one
keeps serving. The holder follows a registry's `current` pointer (retrieval/model_registry.py)
by polling, and `POST /admin/models/reload` asks it to look now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from pathlib import Path

from aiohttp import web

from bot.background_tasks import stop_task
from bot.server.auth import admin_only
from retrieval.bot_model import (
    Analysis,
    BotModel,
    ClickTarget,
    ResponseTemplate,
    ServedModel,
    Settled,
)
from retrieval.index import Passage
from retrieval.intent_classifier import IntentClassifier, IntentPrediction
from retrieval.kb_answers import KbAnswers
from retrieval.model_dir import Manifest
from retrieval.model_registry import ModelRegistry
from retrieval.ranker import ResponseRanker

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 2.0


class ModelHolder:
    """A BotModel whose weights can be replaced while it serves (a `ServedModel`): every
    read goes to the model current at the time of the read."""

    def __init__(
        self,
        model: BotModel,
        registry: ModelRegistry | None = None,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        load: Callable[[Path], BotModel] = BotModel.load,
    ):
        self._model = model
        self._load = load
        """How promoted versions are loaded (`serving_model` gives them an encoder process)."""
        self.registry = registry
        self.poll_seconds = poll_seconds
        self.loaded = registry.current_version() if registry else None
        """The registry version being served (a folder name; may differ from model.version)."""
        self._reload_lock = asyncio.Lock()
        self.after_swap: Callable[[], None] | None = None
        """Called on the event loop after each swap (`supportbot serve` re-freezes the
        garbage collector's view of loaded objects there)."""

    @property
    def current(self) -> BotModel:
        return self._model

    def analyse(self, texts: list[str], search: Sequence[bool] | None = None) -> list[Analysis]:
        """One batch on one model, whatever is swapped in meanwhile."""
        return self._model.analyse(texts, search)

    def swap(self, model: BotModel, loaded: str | None = None) -> None:
        self._model = model
        self.loaded = loaded

    # ServedModel, each read from the model current now.
    @property
    def manifest(self) -> Manifest:
        return self._model.manifest

    @property
    def version(self) -> str:
        return self._model.version

    @property
    def classifier(self) -> IntentClassifier:
        return self._model.classifier

    @property
    def responses(self) -> dict[str, list[ResponseTemplate]]:
        return self._model.responses

    @property
    def ranker(self) -> ResponseRanker | None:
        return self._model.ranker

    @property
    def kb_answers(self) -> KbAnswers | None:
        return self._model.kb_answers

    @property
    def click_targets(self) -> dict[str, ClickTarget]:
        return self._model.click_targets

    def explain(self, texts: list[str]) -> list[tuple[IntentPrediction, dict]]:
        return self._model.explain(texts)

    def kb_passage(self, label: str) -> Passage | None:
        return self._model.kb_passage(label)

    def settled_by(self, prediction: IntentPrediction, kb_answer: Passage | None) -> Settled:
        return self._model.settled_by(prediction, kb_answer)

    async def reload(self) -> bool:
        """Load the registry's current version if it is not the one served; True when it
        swapped. Errors (a broken or missing version) propagate; the old model stays."""
        if self.registry is None:
            return False
        async with self._reload_lock:
            version = self.registry.current_version()
            if version is None or version == self.loaded:
                return False
            model = await asyncio.to_thread(self._load, self.registry.version_dir(version))
            previous = self._model.version
            self.swap(model, version)
            log.info("model swapped: %s -> %s", previous, model.version)
            if self.after_swap is not None:
                self.after_swap()
            return True

    async def follow(self) -> None:
        """Poll the registry until cancelled; a failed load is logged and retried next poll."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.reload()
            except Exception:
                where = self.registry.root if self.registry else "(no registry)"
                log.exception("cannot load the promoted model from %s", where)


HOLDER = web.AppKey("model_holder", ModelHolder)


def serving_model(path: Path, poll_seconds: float = DEFAULT_POLL_SECONDS) -> ServedModel:
    """What `supportbot serve --model PATH` serves: a model directory as is, or a registry
    root's current version behind a holder that follows later promotions. Its encoder
    runs in a child process (retrieval/encoder_process.py)."""
    load = partial(BotModel.load, encoder_process=True)
    registry = ModelRegistry(path)
    if not registry.is_registry():
        return load(path)
    model = load(registry.current_dir())
    return ModelHolder(model, registry, poll_seconds, load)


def add_model_routes(app: web.Application, model: ServedModel) -> None:
    """With a holder: follow its registry while the app runs, and POST /admin/models/reload."""
    if not isinstance(model, ModelHolder):
        return
    app[HOLDER] = model
    app.router.add_post("/admin/models/reload", admin_only(reload_model))
    if model.registry is not None:
        app.cleanup_ctx.append(_following(model))


def _following(holder: ModelHolder):
    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(holder.follow(), name="model-follower")
        yield
        await stop_task(task)

    return context


async def reload_model(request: web.Request) -> web.Response:
    holder: ModelHolder = request.app[HOLDER]
    try:
        changed = await holder.reload()
    except Exception:
        log.exception("cannot load the promoted model")
        return web.json_response(
            {
                "error": "the promoted model could not be loaded; still serving the previous one",
                "model": holder.version,
            },
            status=500,
        )
    return web.json_response({"model": holder.version, "changed": changed})
