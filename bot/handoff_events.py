"""Who hears that an agent took over or released a conversation: channels subscribe here,
so the admin endpoints need not know which channel holds the customer's open connections
(the web chat pushes the change to the widget at once)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)

HandoffListener = Callable[[str, bool], Awaitable[None]]
"""Called with (conversation id, taken): True when a person now owns it, False when the bot."""

HANDOFF_LISTENERS = web.AppKey("handoff_listeners", "HandoffListeners")


class HandoffListeners:
    """The app's subscribers to handoff changes made by an agent."""

    def __init__(self) -> None:
        self._listeners: list[HandoffListener] = []

    def subscribe(self, listener: HandoffListener) -> None:
        self._listeners.append(listener)

    async def announce(self, conversation_id: str, taken: bool) -> None:
        """Tell every listener in turn. The change is already stored, so a failing listener
        is logged (with the conversation id) and the others are still told."""
        for listener in list(self._listeners):
            try:
                await listener(conversation_id, taken)
            except Exception:
                log.exception("handoff listener failed (conversation %s)", conversation_id)


def handoff_listeners(app: web.Application) -> HandoffListeners:
    """The app's registry, created by whichever part is mounted first (before start-up)."""
    listeners = app.get(HANDOFF_LISTENERS)
    if listeners is None:
        listeners = app[HANDOFF_LISTENERS] = HandoffListeners()
    return listeners
