"""Run rasa-sdk actions in this process, from a configured Python package.

Discovery follows rasa-sdk's `ActionExecutor` (import the package and its submodules,
register every concrete `Action` subclass by `name()`), with two differences that matter
inside a server: only classes defined in the configured package count, and a package that
does not import raises `ConfigError` instead of calling `sys.exit`. The executor runs a
synchronous `run` on the event loop; here it runs on the runner's own threads, so a slow
action cannot stall other conversations.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import logging
import pkgutil
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection
from rasa_sdk.utils import all_subclasses

from bot.actions.base import ActionResult, BotMessage, FailureReason
from bot.actions.events import parse_events
from bot.actions.tracker import ConversationView, tracker_state
from bot.store.pseudonyms import pseudonym
from supportbot.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0


def import_package(package: str) -> None:
    """Import `package` and, if it is a package, every submodule below it."""
    module = _import(package)
    for info in pkgutil.iter_modules(getattr(module, "__path__", []), prefix=f"{package}."):
        if info.ispkg:
            import_package(info.name)
        else:
            _import(info.name)


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConfigError(
            f"actions.package: cannot import {name!r}: {type(exc).__name__}: {exc}"
        ) from exc


def discover_actions(package: str) -> dict[str, Action]:
    """Every concrete `Action` defined under `package`, by `name()`. As on a rasa-sdk
    server, a shared base class must be abstract; two actions with one name are a
    configuration error rather than a silent override."""
    import_package(package)
    found: dict[str, Action] = {}
    for cls in all_subclasses(Action):
        if not _defined_under(cls, package) or inspect.isabstract(cls):
            continue
        action = _instantiate(cls)
        name = action.name()
        if name in found and type(found[name]) is not cls:
            other = type(found[name])
            raise ConfigError(
                f"actions.package: action name {name!r} is defined twice, by "
                f"{other.__module__}.{other.__qualname__} and {cls.__module__}.{cls.__qualname__}"
            )
        found[name] = action
    return found


def _defined_under(cls: type, package: str) -> bool:
    return cls.__module__ == package or cls.__module__.startswith(f"{package}.")


def _instantiate(cls: type[Action]) -> Action:
    where = f"{cls.__module__}.{cls.__qualname__}"
    try:
        action = cls()
        action.name()
    except NotImplementedError as exc:
        raise ConfigError(
            f"actions.package: {where} does not implement name(); "
            "make a shared base class abstract (abc.ABC, @abstractmethod name)"
        ) from exc
    except Exception as exc:
        raise ConfigError(f"actions.package: cannot create action {where}: {exc}") from exc
    return action


class LocalActionRunner:
    """An `ActionRunner` for actions imported from `package`, each bounded by `timeout`.

    A synchronous action that overruns keeps its thread until it returns (Python cannot
    stop a thread); the turn does not wait for it, and `max_threads` bounds how many such
    stragglers there can be.
    """

    def __init__(
        self,
        package: str,
        domain: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_threads: int = 4,
    ):
        self.package = package
        self.domain = dict(domain or {})
        self.timeout = timeout
        self.actions = discover_actions(package)
        self._threads = ThreadPoolExecutor(max_threads, thread_name_prefix="custom-action")
        log.info("loaded %d custom actions from %s", len(self.actions), package)

    @property
    def action_names(self) -> list[str]:
        return sorted(self.actions)

    async def run(self, action_name: str, conversation: ConversationView) -> ActionResult:
        action = self.actions.get(action_name)
        if action is None:
            detail = f"no action named {action_name!r} in package {self.package!r}"
            log.error(
                "custom action failed (conversation %s): %s",
                pseudonym(conversation.sender_id),
                detail,
            )
            return ActionResult.failure(action_name, FailureReason.NOT_FOUND, detail)
        dispatcher = CollectingDispatcher()
        tracker = Tracker.from_dict(tracker_state(conversation))
        try:
            call = self._call(action, dispatcher, tracker)
            raw_events = await asyncio.wait_for(call, self.timeout)
        except Exception as exc:
            return _failure(action_name, conversation.sender_id, exc, self.timeout)
        events = ActionExecutor.validate_events(raw_events or [], action_name)
        messages = tuple(BotMessage.from_dict(message) for message in dispatcher.messages)
        return ActionResult(action_name, messages, parse_events(events, action_name))

    async def _call(self, action: Action, dispatcher: CollectingDispatcher, tracker: Tracker):
        if inspect.iscoroutinefunction(action.run):
            return await action.run(dispatcher, tracker, self.domain)
        run = functools.partial(action.run, dispatcher, tracker, self.domain)
        result = await asyncio.get_running_loop().run_in_executor(self._threads, run)
        return await result if inspect.isawaitable(result) else result

    async def close(self) -> None:
        """Stop taking work; an overrunning synchronous action is left to finish alone."""
        self._threads.shutdown(wait=False, cancel_futures=True)


def _failure(action_name: str, sender_id: str, exc: Exception, timeout: float) -> ActionResult:
    """Map what an action raised to a failed result, logged with ids and never re-raised."""
    if isinstance(exc, ActionExecutionRejection):
        log.info(
            "custom action %s rejected execution (conversation %s)",
            action_name,
            pseudonym(sender_id),
        )
        return ActionResult.failure(action_name, FailureReason.REJECTED, exc.message)
    if isinstance(exc, TimeoutError):
        detail = f"action {action_name!r} did not finish within {timeout:g}s"
        log.error("custom action timed out (conversation %s): %s", pseudonym(sender_id), detail)
        return ActionResult.failure(action_name, FailureReason.TIMEOUT, detail)
    log.exception("custom action %s raised (conversation %s)", action_name, pseudonym(sender_id))
    detail = f"action {action_name!r} raised {type(exc).__name__}"
    return ActionResult.failure(action_name, FailureReason.ERROR, detail)
