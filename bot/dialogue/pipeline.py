"""The default stages of a turn, in order, wired to a model and a conversation store.

Outermost first (docs/architecture.md, "A turn", lists each with its file):
`SenderLimit`, `LogTurns`, `ErrorBoundary`, `StartAnalysis`, `ModerateOut`,
`TrackConversation`*, `FormActions`**, `ModerateIn`, `DialogueRules`*, `Clicks`*,
`Understand`, `FollowUps`*, `IntentRules`*, `IntentActions`**, `ResponsePolicy`.
* with a conversation memory; ** with custom actions as well.
"""

from __future__ import annotations

from bot.dialogue import reply_ranking
from bot.dialogue.manager import Middleware
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.stages.actions import ActionPolicy
from bot.dialogue.stages.analysis import Analyse, StartAnalysis, Understand
from bot.dialogue.stages.clicks import Clicks
from bot.dialogue.stages.conversation import TrackConversation
from bot.dialogue.stages.error_boundary import ErrorBoundary
from bot.dialogue.stages.follow_ups import FollowUps
from bot.dialogue.stages.policy import ResponsePolicy
from bot.dialogue.stages.rules import DialogueRules, IntentRules
from bot.dialogue.stages.turn_log import LogTurns
from bot.moderation import Moderator
from bot.moderation.stages import ModerateIn, ModerateOut, SenderLimit
from bot.store.conversation_log import ConversationStore
from retrieval.bot_model import ServedModel


def default_stages(
    *,
    model: ServedModel,
    store: ConversationStore,
    analyse: Analyse,
    max_chars: int,
    moderator: Moderator | None = None,
    memory: ConversationMemory | None = None,
    actions: ActionPolicy | None = None,
    encode_context: reply_ranking.ContextEncoder = reply_ranking.encode_in_thread,
) -> list[Middleware]:
    """The stages in order; with `memory`, the conversation stages (state, handoff, forms,
    small talk) join in around moderation and the model, and with `actions` too, custom
    actions run for mapped intents and finished forms. `encode_context` runs the response
    ranker's encoder (the server micro-batches it)."""
    moderator = moderator or Moderator(max_chars=max_chars)
    outer: list[Middleware] = [
        SenderLimit(moderator),
        LogTurns(store, lambda: model.version, moderator),
        ErrorBoundary(),
        StartAnalysis(analyse),
        ModerateOut(moderator),
    ]
    policy = ResponsePolicy(model, history=store.history, encode_context=encode_context)
    if memory is None:
        return [*outer, ModerateIn(moderator), Understand(analyse), policy]
    finished_forms = [actions.form_actions] if actions is not None else []
    mapped_intents = [actions.intent_actions] if actions is not None else []
    return [
        *outer,
        TrackConversation(memory),
        *finished_forms,
        ModerateIn(moderator),
        DialogueRules(memory),
        Clicks(model, actions),
        Understand(analyse),
        FollowUps(analyse),
        IntentRules(memory),
        *mapped_intents,
        policy,
    ]
