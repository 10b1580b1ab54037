"""Custom actions in the turn: a confident intent mapped to an action, and a finished
form's action, run through the configured `ActionRunner` (local package or action server).

The action sees a Rasa tracker built from the conversation state and the logged history;
its events change the state (slots, forms, pause = human handoff) and its messages become
the turn's replies. `FollowupAction`s run in the same turn, up to `max_followups`.

Failures never reach the customer as details: a timeout, an unreachable server, a crash
or an unknown action gives the fixed apology with a "Talk to a human" button, and the turn
record names the action and the reason. A rejection (`ActionExecutionRejection`, HTTP 400
from an action server) means "not for me": an intent's action falls back to the intent's
own response, a form's action asks the form's last question again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.actions import (
    ActionResult,
    ActionRunner,
    ConversationView,
    FailureReason,
    LatestMessage,
    apply_events,
    build_domain,
    create_action_runner,
    events_from_history,
    failure_replies,
    replies_for,
)
from bot.actions.events import (
    ActiveLoop,
    AllSlotsReset,
    ConversationPaused,
    ConversationResumed,
    Event,
    Restarted,
    SlotSet,
)
from bot.dialogue import forms
from bot.dialogue.manager import Next
from bot.dialogue.memory import ConversationMemory
from bot.dialogue.reply_ranking import History
from bot.dialogue.stages.rules import confident_intent
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import RequestedAction, Turn, payload_of
from retrieval.bot_model import ServedModel
from supportbot.config import ActionsConfig
from supportbot.config.dialogue import DialogueConfig
from supportbot.errors import ConfigError

log = logging.getLogger(__name__)

HISTORY_TURNS = 10
"""Logged turns given to an action as tracker events."""


def action_domain(model: ServedModel, dialogue: DialogueConfig, config: ActionsConfig) -> dict:
    """The Rasa domain sent with every call: the model's intents and responses, the forms'
    slots, and every action this bot may run."""
    actions = {*config.intents.values(), *(f.action for f in dialogue.forms if f.action)}
    slots = sorted({slot.name for form in dialogue.forms for slot in form.slots})
    form_slots = {f.intent: {"required_slots": [s.name for s in f.slots]} for f in dialogue.forms}
    return build_domain(
        intents=model.classifier.intents,
        responses=model.responses,
        slots=slots,
        actions=sorted(actions),
        forms=form_slots,
    )


def actions_from_config(raw: Any) -> ActionsConfig | None:
    """The `actions:` section of a served model's config; errors name the key path."""
    if raw is None:
        return None
    try:
        return TypeAdapter(ActionsConfig).validate_python(raw)
    except ValidationError as exc:
        lines = []
        for problem in exc.errors():
            loc = (
                problem["loc"][1:]
                if problem["loc"][:1] in (("local",), ("remote",))
                else problem["loc"]
            )
            lines.append(f"{'.'.join(['actions', *map(str, loc)])}: {problem['msg']}")
        raise ConfigError("\n".join(lines)) from exc


def action_policy(
    config: ActionsConfig | None,
    model: ServedModel,
    memory: ConversationMemory,
    history: History | None,
) -> ActionPolicy | None:
    """The action stages for a config (None: the bot has no custom actions). A local
    package is imported here, so a broken one fails at start-up."""
    if config is None:
        named = [i for i, form in enumerate(memory.config.forms) if form.action]
        if named:
            raise ConfigError(
                f"dialogue.forms.{named[0]}.action: a form names a custom action, "
                "but the config has no `actions:` section"
            )
        return None
    unknown = sorted(set(config.intents) - set(model.classifier.intents))
    if unknown:
        log.warning("actions.intents: the model has no intent %s", ", ".join(unknown))
    runner = create_action_runner(config, action_domain(model, memory.config, config))
    return ActionPolicy(runner, config, memory, history)


class IntentActions:
    """A confident intent mapped to an action runs it instead of the intent's response
    (after the intent rules)."""

    name = "intent_actions"

    def __init__(self, policy: ActionPolicy):
        self.policy = policy

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        intent = confident_intent(turn) if turn.state else None
        action = self.policy.intents.get(intent) if intent else None
        if action is None or not await self.policy.run(turn, action):
            await next_stage()


class FormActions:
    """A form that finished anywhere inside the turn runs its action at the end (just inside
    `TrackConversation`)."""

    name = "form_actions"

    def __init__(self, policy: ActionPolicy):
        self.policy = policy

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        await next_stage()
        requested, turn.requested_action = turn.requested_action, None
        if requested is not None and turn.state is not None:
            await self.policy.run_for_form(turn, requested)


class ActionPolicy:
    """One runner behind two stages, `IntentActions` and `FormActions`."""

    def __init__(
        self,
        runner: ActionRunner,
        config: ActionsConfig,
        memory: ConversationMemory,
        history: History | None = None,
    ):
        self.runner = runner
        self.intents: Mapping[str, str] = dict(config.intents)
        self.max_followups = config.max_followups
        self.memory = memory
        self.history = history
        self.intent_actions = IntentActions(self)
        self.form_actions = FormActions(self)

    async def close(self) -> None:
        await self.runner.close()

    async def run(self, turn: Turn, name: str) -> bool:
        """Run `name` and its followups, replying and updating the state; False when the
        first action rejected the turn (the caller decides what happens instead)."""
        state = turn.state
        assert state is not None, "custom actions run inside TrackConversation"
        view = await self._view(turn, state)
        ran: list[str] = []
        action: str | None = name
        while action is not None:
            if len(ran) > self.max_followups:
                log.warning(
                    "conversation %s: followup limit %d reached before %s; stopped",
                    state.conversation_id,
                    self.max_followups,
                    action,
                )
                break
            result = await self.runner.run(action, view)
            ran.append(action)
            if result.rejected and len(ran) == 1:
                turn.metadata["actions"] = ran
                turn.metadata["action_rejected"] = action
                return False
            if result.failed:
                self._fail(turn, result, ran)
                return True
            turn.dispatcher.replies.extend(replies_for(result))
            self._note_slots(turn, result)
            await self._apply(turn, state, result)
            view = apply_events(view, result.events, action)
            action = result.followup
        turn.metadata["actions"] = ran
        turn.action = "handoff" if state.handed_off else "action"
        return True

    @staticmethod
    def _note_slots(turn: Turn, result: ActionResult) -> None:
        """Which slots the actions set (names only: the log never holds their values)."""
        names = {event.name for event in result.events if isinstance(event, SlotSet)}
        turn.metadata["slots_set"] = sorted({*turn.metadata.get("slots_set", ()), *names})

    async def run_for_form(self, turn: Turn, requested: RequestedAction) -> None:
        state = turn.state
        assert state is not None, "custom actions run inside TrackConversation"
        if await self.run(turn, requested.name):
            kept = set(turn.metadata.get("slots_set", ()))
            for name in set(requested.forget_slots) - kept:
                state.slots.pop(name, None)
            return
        form = self.memory.config.form_for(requested.form) if requested.form else None
        if form is not None and requested.reask:
            reply = forms.reask(form, state, requested.reask)
            turn.action = "form"
            turn.dispatcher.clear()
            turn.dispatcher.utter(reply.text, reply.buttons)
        else:
            rejected = ActionResult.failure(requested.name, FailureReason.REJECTED, "")
            self._fail(turn, rejected, [requested.name])

    def _fail(self, turn: Turn, result: ActionResult, ran: list[str]) -> None:
        """The apology and a handoff offer instead of whatever the actions said so far."""
        turn.dispatcher.clear()
        turn.dispatcher.replies.extend(failure_replies())
        turn.action = "action_failed"
        turn.metadata["actions"] = ran or [result.action_name]
        turn.metadata["action_error"] = {
            "action": result.action_name,
            "reason": str(result.reason),
            "detail": result.detail,
        }

    async def _view(self, turn: Turn, state: ConversationState) -> ConversationView:
        """The conversation as Rasa would track it: logged turns (redacted text) as events,
        the state's slots and form, and this message as the latest."""
        history = self.history
        rows = await history(state.conversation_id, limit=HISTORY_TURNS) if history else []
        view = ConversationView(
            state.conversation_id,
            slots=dict(state.slots),
            events=events_from_history(rows),
            active_loop=state.active_form,
            paused=state.handed_off,
            input_channel=turn.message.channel,
        )
        return view.with_message(_latest_message(turn))

    async def _apply(self, turn: Turn, state: ConversationState, result: ActionResult) -> None:
        for event in result.events:
            await self._apply_event(turn, state, event, result.action_name)

    async def _apply_event(
        self, turn: Turn, state: ConversationState, event: Event, action: str
    ) -> None:
        if isinstance(event, SlotSet):
            _set_slot(state, event.name, event.value)
        elif isinstance(event, AllSlotsReset):
            state.slots.clear()
        elif isinstance(event, Restarted):
            state.reset_after_idle()
            state.release()
        elif isinstance(event, ConversationPaused) and not state.handed_off:
            await self.memory.hand_off(turn, state, f"action {action}")
        elif isinstance(event, ConversationResumed):
            state.release()
        elif isinstance(event, ActiveLoop):
            self._activate_form(turn, state, event.name, action)

    def _activate_form(
        self, turn: Turn, state: ConversationState, name: str | None, action: str
    ) -> None:
        if name is None:
            state.active_form = state.requested_slot = None
            return
        form = self.memory.config.form_for(name)
        if form is None:
            log.warning("action %s activated form %r, which is not configured", action, name)
            return
        reply = forms.start(form, state)
        turn.dispatcher.utter(reply.text, reply.buttons)


def _set_slot(state: ConversationState, name: str, value: Any) -> None:
    """`SlotSet(name, None)` unsets, as in Rasa, so a form asks for the slot again."""
    if value is None:
        state.slots.pop(name, None)
    else:
        state.slots[name] = value


def _latest_message(turn: Turn) -> LatestMessage:
    prediction = turn.analysis.prediction if turn.analysis else None
    payload = payload_of(turn.text)
    if payload is not None:
        return LatestMessage(turn.text, payload, 1.0)
    if prediction is None:
        return LatestMessage(turn.text)
    ranking = tuple((name, float(score)) for name, score in prediction.ranking)
    intent = None if prediction.out_of_scope else prediction.intent
    return LatestMessage(turn.text, intent, float(prediction.confidence), (), ranking)
