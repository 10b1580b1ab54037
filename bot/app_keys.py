"""The typed keys under which the server keeps its shared parts on the aiohttp app.

Channels, admin endpoints and the runtime read each other's parts only through these
keys, so no module has to import the server (and the import cycle that would make).
A channel's own state stays under a key of its own, in its module.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.dialogue.manager import DialogueManager
from bot.dialogue.memory import HandoffStates
from bot.dialogue.stages.analysis import Analyse
from bot.handoff.events import HANDOFF_LISTENERS
from bot.server.admission import GATE
from bot.server.settings import AppDeps
from bot.store.conversation_log import ConversationStore

DEPS = web.AppKey("deps", AppDeps)
"""The model and store the app was created with."""
MANAGER = web.AppKey("manager", DialogueManager)
"""The dialogue manager, set once the runtime has started."""
ANALYSE: web.AppKey[Analyse] = web.AppKey("analyse")
"""The micro-batched model call with retrieval hits always searched (`/model/parse`)."""
HANDOFF_STATES = web.AppKey("handoff_states", HandoffStates)
"""The conversation states, with who owns each conversation."""
REDACT: web.AppKey[Callable[[str], str]] = web.AppKey("redact")
"""The redaction every logged text goes through, set once the runtime has started."""
# Defined beside their types, which need them: who is told when a person takes a
# conversation over or gives it back, and the gate counting the turns in progress.
__all__ = [
    "ADMIN_STORE",
    "ADMIN_TOKEN",
    "ANALYSE",
    "DEPS",
    "GATE",
    "HANDOFF_LISTENERS",
    "HANDOFF_STATES",
    "MANAGER",
    "REDACT",
]
ADMIN_TOKEN: web.AppKey[str | None] = web.AppKey("admin_token")
"""The bearer token of /admin/*; None disables those endpoints."""
ADMIN_STORE = web.AppKey("admin_store", ConversationStore)
"""The conversation log the admin endpoints maintain."""
