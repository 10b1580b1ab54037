"""Labels back into the log: CSV / JSON lines export and import with line-numbered errors,
and the review page's admin endpoints on a real server."""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.server.settings import ServerSettings
from bot.store.conversation_log import SQLiteConversationStore, open_database
from bot.store.learning_log import LearningLog
from bot.store.privacy import forget_sender
from bot.store.review_labels import enqueue, trainable_labels
from supportbot.cli import main
from supportbot.testing import live_server
from training.labels import export_rows, import_labels, write_rows

WEBHOOK = "/webhooks/rest/webhook"
TOKEN = "review-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MESSAGES = ["where is my order?", "my parcel arrived crushed", "hello there"]


@pytest.fixture
async def served_log(tiny_model, tmp_path):
    """Turns logged by a real server; every one queued for review as `supportbot review`
    would."""
    async with live_server(tiny_model, tmp_path / "log.db") as live:
        async with aiohttp.ClientSession() as session:
            for n, text in enumerate(MESSAGES):
                body = {"sender": f"s-{n}", "message": text}
                async with session.post(live.url + WEBHOOK, json=body) as response:
                    assert response.status == 200
    db = open_database(tmp_path / "log.db")
    rows = list(db["turns"].rows_where(order_by="id"))
    picks = [
        {**row, "turn_id": row["id"], "reasons": ["low_confidence"], "score": 1.0} for row in rows
    ]
    enqueue(db, picks, "test")
    yield db, [row["id"] for row in rows]
    db.close()


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
async def test_export_then_import_round_trip(served_log, tmp_path, suffix):
    db, turn_ids = served_log
    exported = tmp_path / f"picks{suffix}"
    assert write_rows(export_rows(LearningLog(db)), exported) == 3
    rows = (
        [json.loads(line) for line in exported.read_text().splitlines()]
        if suffix == ".jsonl"
        else None
    )
    if suffix == ".csv":
        lines = exported.read_text().splitlines()
        assert lines[0] == "turn_id,text,bot_intent,confidence,reasons,intent,new_intent,reply"
        filled = [
            lines[0],
            f"{turn_ids[0]},x,,,,order_status,false,",
            f"{turn_ids[1]},x,,,,damaged_parcel,true,Sorry! Send us a photo.",
            f"{turn_ids[2]},x,,,,,,",
        ]
        exported.write_text("\n".join(filled) + "\n")
    else:
        assert [r["text"] for r in rows] == MESSAGES
        rows[0]["intent"] = "order_status"
        rows[1].update(intent="damaged_parcel", new_intent=True, reply="Sorry! Send us a photo.")
        exported.write_text("".join(json.dumps(r) + "\n" for r in rows))

    result = import_labels(LearningLog(db), exported, reviewer="ana")
    assert (result.stored, result.skipped) == (2, 1)
    labels = trainable_labels(db)
    assert [(r["text"], r["intent"], r["new_intent"], r["reply"]) for r in labels] == [
        ("where is my order?", "order_status", 0, None),
        ("my parcel arrived crushed", "damaged_parcel", 1, "Sorry! Send us a photo."),
    ]
    relabelled = tmp_path / f"again{suffix}"
    write_rows(export_rows(LearningLog(db), labelled=True), relabelled)
    assert import_labels(LearningLog(db), relabelled).stored == 2
    assert trainable_labels(db) == labels
    assert [row["turn_id"] for row in export_rows(LearningLog(db))] == [turn_ids[2]]


async def test_import_reports_every_bad_line_and_stores_nothing(served_log, tmp_path, capsys):
    db, turn_ids = served_log
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "turn_id,intent,new_intent,reply\n"
        f"{turn_ids[0]},order_status,false,\n"
        "seven,order_status,,\n"
        f"{turn_ids[1]},order status,,\n"
        f"{turn_ids[2]},greet,maybe,\n"
        "999999,greet,,\n"
    )
    code = main(["labels", "import", str(bad), "--db", str(tmp_path / "log.db")])
    assert code == 1
    assert capsys.readouterr().err == (
        "error: 3 bad row(s), nothing imported:\n"
        f"{bad}:3: turn_id: expected an integer\n"
        f"{bad}:4: intent: expected an intent name (1-100 characters without "
        "spaces, not starting with '/')\n"
        f"{bad}:5: new_intent: expected true or false\n"
    )
    bad.write_text(f"turn_id,intent\n{turn_ids[0]},greet\n999999,greet\n")
    assert main(["labels", "import", str(bad), "--db", str(tmp_path / "log.db")]) == 1
    assert capsys.readouterr().err == (
        "error: 1 bad row(s), nothing imported:\n"
        f"{bad}:3: turn_id: no turn 999999 in the conversation log\n"
    )
    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text('{"turn_id": 1, "intent": "greet"}\n[1, 2]\n{not json\n')
    assert main(["labels", "import", str(jsonl), "--db", str(tmp_path / "log.db")]) == 1
    assert capsys.readouterr().err == (
        "error: 2 bad row(s), nothing imported:\n"
        f"{jsonl}:2: expected a JSON object\n"
        f"{jsonl}:3: not valid JSON\n"
    )
    assert trainable_labels(db) == []


async def test_review_page_lists_picks_and_stores_labels(served_log, tiny_model, tmp_path):
    db, turn_ids = served_log
    settings = ServerSettings(admin_token=TOKEN)
    async with live_server(tiny_model, tmp_path / "log.db", settings) as live:
        async with aiohttp.ClientSession() as session:
            async with session.get(live.url + "/admin/review") as response:
                assert response.status == 200
                assert "Admin token" in await response.text()
            async with session.get(live.url + "/admin/review/queue") as response:
                assert response.status == 401
            async with session.get(live.url + "/admin/review/queue", headers=AUTH) as response:
                queue = await response.json()
            assert [p["message"] for p in queue["picks"]] == MESSAGES
            assert "order_status" in queue["intents"]
            assert queue["responses"]["order_status"]

            url = live.url + "/admin/review/labels"
            body = {
                "turn_id": turn_ids[1],
                "intent": "damaged_parcel",
                "new_intent": True,
                "reply": "Sorry to hear that.",
                "reviewer": "ana",
            }
            async with session.post(url, json=body, headers=AUTH) as response:
                assert await response.json() == {"status": "labelled", "turn_id": turn_ids[1]}
            for wrong, reason in [
                (
                    {**body, "intent": "/greet"},
                    "intent: expected an intent name (1-100 characters without spaces, "
                    "not starting with '/')",
                ),
                ({**body, "turn_id": "1"}, "turn_id: expected an integer"),
                ({**body, "colour": "red"}, "colour: unknown field"),
                ({**body, "turn_id": 999999}, "turn_id: no such turn in the conversation log"),
            ]:
                async with session.post(url, json=wrong, headers=AUTH) as response:
                    assert (await response.json())["error"] == reason
            async with session.get(live.url + "/admin/review/queue", headers=AUTH) as response:
                remaining = [p["turn_id"] for p in (await response.json())["picks"]]
    assert remaining == [turn_ids[0], turn_ids[2]]
    [label] = trainable_labels(db)
    assert (label["intent"], label["new_intent"], label["reply"]) == (
        "damaged_parcel",
        1,
        "Sorry to hear that.",
    )
    db.execute("UPDATE conversations SET opt_out = 1 WHERE id = 's-1'")
    db.conn.commit()
    assert trainable_labels(db) == [], "an opted-out conversation's label would be trained on"
    store = await SQLiteConversationStore.open(tmp_path / "log.db")
    report = await forget_sender(store, "s-1", "test")
    await store.close()
    assert report.turns == 1
    assert db.execute("SELECT count(*) FROM review_labels").fetchone()[0] == 0
    assert (
        db.execute("SELECT count(*) FROM review_queue WHERE turn_id = ?", [turn_ids[1]]).fetchone()[
            0
        ]
        == 0
    )
