"""`supportbot test CONVERSATIONS.yml --model M`: replay conversations through the real
dialogue manager (the stages the server runs) and check each bot turn.

The format is in training/conversation_tests.py (Rasa's end-to-end test stories as the
model). Each conversation runs as its own customer against an in-memory conversation log,
so nothing is written beside the model; what a turn did is read from the record the log
stage wrote for it, as an analyst would read it.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    test = commands.add_parser(
        "test", help="replay conversations through the bot and check every turn"
    )
    test.add_argument("conversations", type=Path, help="a conversations YAML file")
    test.add_argument("--model", type=Path, required=True, help="model directory or name")
    test.set_defaults(run=run_test)


def run_test(args: argparse.Namespace) -> int:
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir
    from training.conversation_tests import load_conversations
    from training.problems import ProblemLog

    problems = ProblemLog()
    conversations = load_conversations(args.conversations, str(args.conversations), problems)
    if problems.errors or not conversations:
        for problem in problems.problems:
            print(problem)
        if not problems.errors:
            print(f"{args.conversations}: no conversations to test")
        return 2
    model = BotModel.load(resolve_model_dir(args.model))
    failed = asyncio.run(_replay_all(model, conversations))
    return 1 if failed else 0


async def _replay_all(model, conversations) -> int:
    """Print a line per turn that failed and a summary; the number of failed turns."""
    from bot.channels.base import InboundMessage
    from bot.server.runtime import dialogue_runtime
    from bot.server.settings import AppDeps
    from supportbot.cli.serving import server_settings
    from training.conversation_tests import failures

    store = _recording_store()
    settings = server_settings(model, channels=False)
    turns = failed = failed_conversations = 0
    async with dialogue_runtime(settings, AppDeps(model, store)) as runtime:
        for number, conversation in enumerate(conversations):
            sender = f"conversation-test-{number}"
            failed_here = 0
            for index, step in enumerate(conversation.steps, start=1):
                replies = await runtime.manager.handle(InboundMessage(sender, step.user, "test"))
                outcome = _outcome(store.last, replies)
                reasons = failures(step, outcome)
                turns += 1
                if reasons:
                    failed_here += 1
                    print(f"FAIL {step.source} {conversation.name!r}, turn {index}: {step.user!r}")
                    for reason in reasons:
                        print(f"     {reason}")
            failed += failed_here
            failed_conversations += failed_here > 0
    passed = len(conversations) - failed_conversations
    print(
        f"{passed}/{len(conversations)} conversations passed, {turns - failed}/{turns} turns passed"
    )
    return failed


def _outcome(record, replies):
    from training.conversation_tests import TurnOutcome

    text = "\n".join(reply.text for reply in replies)
    if record is None:  # a refused message is not logged (the sender's rate limit)
        return TurnOutcome(None, "rate_limited", None, text, False)
    return TurnOutcome(
        intent=None if record.out_of_scope else record.intent,
        action=record.action,
        article=record.metadata.get("article"),
        text=text,
        handed_off=record.action == "handoff",
    )


def _recording_store():
    """An in-memory conversation log that also keeps the last record it was given."""
    from bot.store.conversation_log import SQLiteConversationStore

    class RecordingStore(SQLiteConversationStore):
        last = None

        async def log_turn(self, record) -> int:
            self.last = record
            return await super().log_turn(record)

    return RecordingStore(":memory:")
