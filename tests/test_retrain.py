"""`supportbot retrain` for real: reviewed labels from a SQLite log into a small CSV project,
two trainings, both models scored on the same frozen test file; a worse candidate is kept
but not promoted."""

from __future__ import annotations

import csv
import json

from bot.store.conversation_log import SQLiteConversationStore, TurnRecord, open_database
from bot.store.review_labels import Label, save_labels
from retrieval.model_registry import ModelRegistry
from supportbot.cli import main
from training.retrain import promote_if_not_worse

CONFIG = """name: retrain-bot
data:
  - data
training:
  seed: 3
  epochs: 10
  lexical_features: false
learning:
  test_file: frozen/test.csv
  metric: accuracy
  tolerance: 0.01
"""
SEED = {
    "order_status": ["where is my order", "has my order shipped", "track my parcel"],
    "refund": ["I want my money back", "refund my purchase", "how do refunds work"],
    "card_declined": ["my card was declined", "payment failed at checkout", "card not accepted"],
}
REVIEWED = {
    "order_status": [
        "when will my package arrive",
        "my delivery is late",
        "order not here yet",
        "status of my shipment",
        "is my parcel on its way",
    ],
    "refund": [
        "can I get a refund for the shoes",
        "give me my money back please",
        "return it and refund me",
        "I was promised a refund",
        "refund to my card",
    ],
    "card_declined": [
        "why was my visa refused",
        "the payment keeps failing",
        "my card does not work on your site",
        "transaction declined again",
        "card rejected when paying",
    ],
}
TEST = {
    "order_status": ["where is my package", "has my parcel been sent", "delivery still not here"],
    "refund": ["I need a refund", "money back for my order", "when do I get my refund"],
    "card_declined": ["card got declined", "my payment was refused", "visa not accepted"],
}
ROTATED = {"order_status": "refund", "refund": "card_declined", "card_declined": "order_status"}


def write_csv(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["text", "label"])
        writer.writerows((text, intent) for intent, texts in rows.items() for text in texts)


async def logged_turns(db_path) -> dict[int, str]:
    """The reviewed messages as turns of a conversation log; turn id -> true intent."""
    store = await SQLiteConversationStore.open(db_path)
    truth = {}
    for intent, texts in REVIEWED.items():
        for n, text in enumerate(texts):
            record = TurnRecord(
                f"{intent}-{n}", "rest", text, None, 0.3, True, "fallback", [], [], {}, 1.0, "m-0"
            )
            truth[await store.log_turn(record)] = intent
    await store.close()
    return truth


async def test_retrain_promotes_when_not_worse_and_keeps_a_worse_candidate(tmp_path, capsys):
    project, models = tmp_path / "project", tmp_path / "models"
    project.mkdir()
    (project / "supportbot.yml").write_text(CONFIG)
    write_csv(project / "data" / "seed.csv", SEED)
    write_csv(project / "frozen" / "test.csv", TEST)
    truth = await logged_turns(tmp_path / "log.db")
    db = open_database(tmp_path / "log.db")
    save_labels(db, [Label(turn, intent) for turn, intent in truth.items()])
    retrain = ["retrain", str(project), "--models", str(models), "--db", str(tmp_path / "log.db")]

    assert main(retrain) == 0
    first = printed_result(capsys.readouterr().out)
    registry = ModelRegistry(models)
    good = registry.current_version()
    assert (first["candidate"], first["current"], first["promoted"]) == (good, None, True)
    lines = (project / "data" / "reviewed.csv").read_text().splitlines()
    assert lines[0] == "text,label" and len(lines) == 1 + len(truth)

    save_labels(db, [Label(turn, ROTATED[intent]) for turn, intent in truth.items()])
    assert main(retrain) == 0
    result = printed_result(capsys.readouterr().out)
    db.close()
    worse = result["candidate"]
    assert (result["current"], result["promoted"]) == (good, False)
    assert result["candidate_score"] < result["current_score"] - 0.01
    assert registry.current_version() == good
    assert {v.version for v in registry.versions()} == {good, worse}

    assert main(["models", "promote", worse, "--models", str(models)]) == 0
    promoted, score, against = promote_if_not_worse(
        registry, good, project / "frozen" / "test.csv", _learning(project), lambda line: None
    )
    assert promoted and score > against
    assert registry.current_version() == good
    assert registry.promotion_stack() == [good, worse, good]
    scored = {v.version: v.evaluation["accuracy"] for v in registry.versions()}
    assert scored[good] > scored[worse]


def printed_result(out: str) -> dict:
    """The JSON summary `supportbot retrain` prints after its progress lines."""
    return json.loads(out[out.rindex("\n{\n") + 1 :])


def _learning(project):
    from supportbot.config import load_config

    return load_config(project / "supportbot.yml").learning
