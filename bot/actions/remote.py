"""Run actions on a standard rasa-sdk action server (`POST {url}/webhook`).

Status codes, as rasa-sdk 3.x's `rasa_sdk.endpoint` sends them:
200 `{"events", "responses"}`; 400 with `action_name` for `ActionExecutionRejection`
(400 without it: a body the server could not read); 404 for `ActionNotFoundException`;
449 for `ActionMissingDomainException` (no domain and no cached digest; we always send
the domain, so this means the server lost it); 500 when the action raised. rasa-sdk's 500
body echoes the request, so bodies are never logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.actions.base import ActionResult, FailureReason, result_from_payload
from bot.actions.tracker import ConversationView, tracker_state
from bot.store.pseudonyms import pseudonym

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0


def _protocol_version() -> str:
    """The Rasa version we claim: the installed rasa-sdk's, so a matching server does not
    warn about an incompatible caller."""
    try:
        return version("rasa-sdk")
    except PackageNotFoundError:
        return "3.0.0"


PROTOCOL_VERSION = _protocol_version()


def webhook_url(url: str) -> str:
    """`http://host:5055` and Rasa's own `http://host:5055/webhook` both mean the webhook."""
    url = url.rstrip("/")
    return url if urlsplit(url).path.endswith("/webhook") else f"{url}/webhook"


def action_call(
    action_name: str, conversation: ConversationView, domain: Mapping[str, Any]
) -> dict[str, Any]:
    """The body of `POST /webhook` (`rasa_sdk.types.ActionCall`)."""
    return {
        "next_action": action_name,
        "sender_id": conversation.sender_id,
        "tracker": tracker_state(conversation),
        "domain": dict(domain),
        "version": PROTOCOL_VERSION,
    }


def result_for_response(action_name: str, status: int, body: Any) -> ActionResult:
    """The one place an action server's HTTP status becomes a result."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if status == 200:
        return result_from_payload(action_name, body)
    if status == 400 and isinstance(body, Mapping) and "action_name" in body:
        return ActionResult.failure(action_name, FailureReason.REJECTED, str(error or ""))
    if status == 404:
        detail = f"the action server has no action named {action_name!r}"
        return ActionResult.failure(action_name, FailureReason.NOT_FOUND, detail)
    if status == 449:
        detail = "the action server asked for the domain although it was sent"
        return ActionResult.failure(action_name, FailureReason.DOMAIN_MISSING, detail)
    if status == 400 or status >= 500:
        detail = f"the action server answered {status}"
        return ActionResult.failure(action_name, FailureReason.ERROR, detail)
    detail = f"unexpected status {status} from the action server"
    return ActionResult.failure(action_name, FailureReason.BAD_RESPONSE, detail)


class RemoteActionRunner:
    """An `ActionRunner` that calls an action server; every call is bounded by `timeout`."""

    def __init__(
        self,
        url: str,
        domain: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.url = webhook_url(url)
        self.domain = dict(domain or {})
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def run(self, action_name: str, conversation: ConversationView) -> ActionResult:
        try:
            body = json.dumps(action_call(action_name, conversation, self.domain))
        except (TypeError, ValueError):
            detail = "the conversation state (slots or events) is not JSON-serialisable"
            result = ActionResult.failure(action_name, FailureReason.ERROR, detail)
        else:
            result = await self._call(action_name, body)
        _log(result, conversation.sender_id)
        return result

    async def _call(self, action_name: str, body: str) -> ActionResult:
        try:
            async with asyncio.timeout(self.timeout):
                status, payload = await self._post(body)
            return result_for_response(action_name, status, payload)
        except TimeoutError:
            detail = f"no answer from {self.url} within {self.timeout:g}s"
            return ActionResult.failure(action_name, FailureReason.TIMEOUT, detail)
        except aiohttp.ClientError as exc:
            detail = f"cannot reach {self.url}: {type(exc).__name__}"
            return ActionResult.failure(action_name, FailureReason.UNREACHABLE, detail)
        except ValueError:
            detail = f"{self.url} answered with a body that is not JSON"
            return ActionResult.failure(action_name, FailureReason.BAD_RESPONSE, detail)
        except Exception as exc:
            log.exception("calling the action server failed unexpectedly")
            detail = f"calling {self.url} raised {type(exc).__name__}"
            return ActionResult.failure(action_name, FailureReason.ERROR, detail)

    async def _post(self, body: str) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        async with self._client().post(self.url, data=body, headers=headers) as response:
            text = await response.text()
            return response.status, json.loads(text) if text.strip() else None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _log(result: ActionResult, sender_id: str) -> None:
    if result.rejected:
        log.info(
            "custom action %s rejected (conversation %s)", result.action_name, pseudonym(sender_id)
        )
    elif result.failed:
        log.error(
            "custom action %s failed (conversation %s, %s): %s",
            result.action_name,
            sender_id,
            result.reason,
            result.detail,
        )
