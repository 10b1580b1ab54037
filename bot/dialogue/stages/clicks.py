"""`Clicks`: a quick reply does what its button was declared to do.

Training checked that every button's payload maps to something (training/button_targets.py)
and wrote what the bot definition declared beside it: answer as an intent, start a form,
run a custom action, give an article, or give a written reply. A payload's slots
(Rasa's `/intent{"slot": "value"}`) are set before that. A payload with nothing declared
goes on by its name (`/card_arrival` answers as that intent, `/human_handoff` hands off).
"""

from __future__ import annotations

from bot import messages
from bot.dialogue.manager import Next
from bot.dialogue.stages.actions import ActionPolicy
from bot.dialogue.stages.policy import answer_with_article
from bot.dialogue.turn import Turn
from retrieval.bot_model import ClickTarget, ServedModel
from supportbot.payloads import Payload, PayloadError, parse_payload


class Clicks:
    """Runs after `DialogueRules` (an open form takes a choice button's answer first) and
    before the model: a declared reply or article needs no intent model."""

    name = "clicks"

    def __init__(self, model: ServedModel, actions: ActionPolicy | None = None):
        self.model = model
        self.actions = actions

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        payload = _payload(turn.text)
        if payload is None:
            await next_stage()
            return
        if turn.state is not None:
            turn.state.slots.update(payload.slots)
        target = self.model.click_targets.get(payload.name)
        if target is None:
            await next_stage()
            return
        turn.metadata["clicked"] = payload.name
        if target.kind in ("intent", "form"):
            turn.chosen = target.value  # the intent rules and the policy take it from here
            await next_stage()
        elif target.kind == "action":
            await self._run_action(turn, target.value)
        elif target.kind == "article":
            answer_with_article(turn, target.value, target.text or "", target.url)
        else:
            _reply(turn, target)

    async def _run_action(self, turn: Turn, action: str) -> None:
        if self.actions is None or not await self.actions.run(turn, action):
            turn.action = "action_failed"
            turn.dispatcher.utter(messages.OPTION_UNAVAILABLE)


def _payload(text: str) -> Payload | None:
    try:
        return parse_payload(text)
    except PayloadError:
        return None  # "/" and something that is not a payload: read it as text


def _reply(turn: Turn, target: ClickTarget) -> None:
    turn.action = "intent_response"
    turn.dispatcher.utter(target.value)
