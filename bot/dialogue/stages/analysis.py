"""`StartAnalysis` and `Understand`: the model's reading of the message, started as soon as
the turn is admitted and awaited where the turn needs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.dialogue.manager import Next
from bot.dialogue.turn import Turn
from retrieval.bot_model import Analysis

Analyse = Callable[[str], Awaitable[Analysis]]


class StartAnalysis:
    """Sends the message to the model as soon as the turn is admitted.

    The model needs only the text, and the stages before `Understand` (conversation state
    from the store, moderation) take a millisecond or two of their own: started here, the
    model call runs meanwhile. A turn that never reaches `Understand` (a handed-off
    conversation, a blocked message) cancels the call, or drops its result.
    """

    name = "start_analysis"

    def __init__(self, analyse: Analyse):
        self.analyse = analyse

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        call = asyncio.ensure_future(self.analyse(turn.text))
        turn.started_analysis = (turn.text, call)
        try:
            await next_stage()
        finally:
            turn.started_analysis = None
            call.cancel()
            await asyncio.gather(call, return_exceptions=True)


class Understand:
    """The model's analysis of the text as it now stands: the early call's result when no
    stage changed the text since (moderation may have cleaned it), else a new call."""

    name = "understand"

    def __init__(self, analyse: Analyse):
        self.analyse = analyse

    async def __call__(self, turn: Turn, next_stage: Next) -> None:
        started = turn.started_analysis
        if started is not None and started[0] == turn.text:
            turn.analysis = await started[1]
        else:
            turn.analysis = await self.analyse(turn.text)
        await next_stage()
