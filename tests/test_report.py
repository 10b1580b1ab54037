"""`supportbot report` and `/admin/analytics` against a known set of conversations driven
through the real server, each figure checked against numbers worked out by hand."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import aiohttp
import pytest

from bot.channels.webchat.channel import TOKEN_HEADER
from bot.server.settings import ServerSettings
from supportbot.cli import main
from supportbot.testing import live_server

ADMIN = "report-test-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
WEBHOOK = "/webhooks/rest/webhook"
GAP_SECONDS = 1.0
"""The visits' silence gap in this test (`--session-gap-minutes`), so a customer can come
back within a test's time."""
OPTED_OUT_TEXT = "what is the capital of mongolia"


async def say(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> list[dict]:
    async with session.post(url + WEBHOOK, json={"sender": sender, "message": text}) as response:
        assert response.status == 200
        return await response.json()


async def drive_conversations(url: str) -> None:
    """Eight visits: answered, fallback, KB answer, handoff, thumbs down on the web chat,
    an opted-out fallback, and a customer who comes back. (The tiny model is too sure of
    itself to ever ask a clarifying question: `test_turn_rates_of_a_stored_log` has one.)"""
    async with aiohttp.ClientSession() as session:
        await say(session, url, "ana", "where is my order?")  # answered, contained
        await say(session, url, "bo", "what is the boiling point of tungsten")  # fallback
        await say(session, url, "cy", "how do I reset my password")  # knowledge base
        await say(session, url, "di", "I want to talk to a human")  # handoff, left waiting
        await say(session, url, "fy", OPTED_OUT_TEXT)  # fallback, then opted out
        async with session.post(url + "/admin/conversations/fy/opt-out", headers=AUTH) as r:
            assert r.status == 200
        async with session.post(url + "/webchat/api/sessions") as response:
            token = {TOKEN_HEADER: (await response.json())["token"]}
        async with session.post(
            url + "/webchat/api/messages", json={"text": "where is my order?"}, headers=token
        ) as response:
            turn_id = (await response.json())["turn"]["turn_id"]
        async with session.post(
            url + "/webchat/api/feedback", json={"turn_id": turn_id, "value": "down"}, headers=token
        ) as response:
            assert response.status == 200
        await say(session, url, "gus", "where is my order?")  # comes back with it:
        await asyncio.sleep(GAP_SECONDS + 0.5)
        await say(session, url, "gus", "where is my order?")  # not contained the first time


@pytest.fixture
async def logged(tiny_model, tmp_path) -> Path:
    db = tmp_path / "log.db"
    async with live_server(tiny_model, db, ServerSettings(admin_token=ADMIN)) as live:
        await drive_conversations(live.url)
    return db


def run_report(db: Path, out: Path, *extra: str) -> dict:
    gap = str(GAP_SECONDS / 60)
    code = main(
        ["report", "--db", str(db), "--out", str(out), "--session-gap-minutes", gap, *extra]
    )
    assert code == 0
    return json.loads((out / "report.json").read_text())


def test_every_figure_matches_the_hand_count(logged, tmp_path, tiny_model):
    out = tmp_path / "report"
    report = run_report(logged, out)
    totals = report["totals"]
    # 8 visits: ana, bo, cy, di, fy, the web chat, gus twice.
    assert totals["conversations"] == 8
    # Not contained: di (handoff), bo and fy (ended on a fallback), gus's first (came back).
    assert (totals["contained"], totals["containment_rate"]) == (4, 0.5)
    assert (totals["handed_off_conversations"], totals["handoff_rate"]) == (1, 0.125)
    assert (totals["ended_unanswered"], totals["returned"]) == (2, 1)
    assert (totals["abandoned"], totals["abandonment_rate"]) == (1, 0.125)
    assert totals["bot_turns"] == 8
    assert (totals["fallback_turns"], totals["fallback_rate"]) == (2, 0.25)
    assert (totals["clarification_turns"], totals["clarification_rate"]) == (0, 0.0)
    assert (totals["kb_answer_turns"], totals["kb_answer_rate"]) == (1, 0.125)
    assert (totals["ranked_reply_turns"], totals["ranked_reply_rate"]) == (0, 0.0)
    assert (totals["thumbs_up"], totals["thumbs_down"], totals["thumbs_down_rate"]) == (0, 1, 1.0)
    assert report["satisfaction"]["thumbs"] == {
        "bot_replies": 8,
        "rated": 1,
        "up": 0,
        "down": 1,
        "up_rate": 0.0,
        "rated_rate": 0.125,
    }
    assert report["satisfaction"]["survey"] is None
    assert report["agent"]["first_human_reply_seconds"] is None
    assert report["agent"]["absent"].startswith("no agent data in this log")
    reasons = {row["reason"]: row["handoffs"] for row in report["handoff_reasons"]}
    assert reasons == {
        "asked": 1,
        "repeated_fallbacks": 0,
        "abuse": 0,
        "action_failure": 0,
        "policy": 0,
        "other": 0,
    }
    assert report["abandonment"] == {
        "abandoned": 1,
        "waiting_for_a_person": 1,
        "waiting_for_a_reply": 0,
        "rate": 0.125,
    }
    # The opted-out fallback is counted, never quoted.
    assert report["unanswered"]["turns"] == 2
    assert report["unanswered"]["opted_out_not_quoted"] == 1
    assert report["unanswered"]["clusters"] == [
        {"size": 1, "examples": ["what is the boiling point of tungsten"]}
    ]
    channels = {row["channel"]: row for row in report["cuts"]["channel"]}
    assert (channels["rest"]["conversations"], channels["webchat"]["conversations"]) == (7, 1)
    assert channels["webchat"]["thumbs_down"] == 1 and channels["rest"]["contained"] == 3
    articles = {row["kb_article"]: row["kb_answer_turns"] for row in report["cuts"]["kb_article"]}
    assert articles["Your account"] == 1
    [version] = report["cuts"]["model_version"]
    assert (version["model_version"], version["conversations"]) == (tiny_model.version, 8)
    intents = {row["intent"]: row for row in report["cuts"]["intent"]}
    assert intents["order_status"]["bot_turns"] == 4
    assert intents["order_status"]["thumbs_down"] == 1
    [day] = report["cuts"]["day"]
    assert day["conversations"] == 8 and day["contained"] == 4

    files = {path.name for path in out.iterdir()}
    assert {"report.json", "report.html", "by_day.csv", "by_intent.csv"} <= files
    assert {f"{name}.png" for name in ("containment_over_time", "handoff_reasons")} <= files
    assert {"worst_intents.png", "unanswered_clusters.png"} <= files
    for path in out.iterdir():
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert OPTED_OUT_TEXT not in path.read_text(), path.name
    with (out / "handoff_reasons.csv").open() as handle:
        assert next(csv.DictReader(handle)) == {
            "reason": "asked",
            "handoffs": "1",
            "rate": "0.125",
        }
    page = (out / "report.html").read_text()
    assert 'src="containment_over_time.png"' in page and "50.0 %" in page


def test_the_return_window_is_configurable(logged, tmp_path):
    report = run_report(logged, tmp_path / "report", "--return-window-hours", "0.0001")
    assert (report["totals"]["returned"], report["totals"]["contained"]) == (0, 5)


def test_the_date_range_selects_visits(logged, tmp_path):
    report = run_report(logged, tmp_path / "report", "--until", "2001-01-01")
    assert report["totals"]["conversations"] == 0
    assert report["totals"]["containment_rate"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "2026-13-01"], "argument --since: '2026-13-01' is not a date"),
        (["--since", "2026-12-02", "--until", "2026-12-01"], "error: --since: must be before"),
    ],
)
def test_bad_dates_are_refused(tmp_path, capsys, args, message):
    db = tmp_path / "log.db"
    db.write_bytes(b"")
    with pytest.raises(SystemExit) if "argument" in message else _no_raise():
        code = main(["report", "--db", str(db), "--out", str(tmp_path / "r"), *args])
        assert code == 1
    assert message in capsys.readouterr().err


def test_a_missing_log_or_a_file_as_out_is_refused(tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path)]) == 1
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'none.db'}: no conversation log at this path\n"
    )
    db = tmp_path / "log.db"
    db.write_bytes(b"")
    assert main(["report", "--db", str(db), "--out", str(db)]) == 1
    assert capsys.readouterr().err == f"error: {db}: --out must be a folder, and this is a file\n"


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


async def test_admin_analytics_shows_the_same_figures(tiny_model, tmp_path):
    db = tmp_path / "log.db"
    async with live_server(tiny_model, db, ServerSettings(admin_token=ADMIN)) as live:
        await drive_conversations(live.url)
        async with aiohttp.ClientSession() as session:
            async with session.get(live.url + "/admin/analytics") as response:
                assert response.status == 200
                assert "img-src data:" in response.headers["Content-Security-Policy"]
            async with session.get(live.url + "/admin/analytics/report") as response:
                assert response.status == 401
            query = "?since=2000-01-01&until=2100-01-01"
            async with session.get(live.url + "/admin/analytics/report" + query, headers=AUTH) as r:
                assert r.status == 200
                body = await r.json()
            async with session.get(
                live.url + "/admin/analytics/report?since=yesterday", headers=AUTH
            ) as response:
                assert response.status == 400
                assert (await response.json())["error"].startswith(
                    "since: 'yesterday' is not a date"
                )
    totals = body["report"]["totals"]
    # The page uses the default 30-minute visits, so gus's two messages are one visit.
    assert (totals["conversations"], totals["contained"], totals["handed_off_conversations"]) == (
        7,
        4,
        1,
    )
    assert 'src="data:image/png;base64,' in body["html"]
    assert OPTED_OUT_TEXT not in json.dumps(body)


def test_a_file_that_is_not_a_log_is_refused(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert main(["report", "--db", str(empty), "--out", str(tmp_path / "r")]) == 1
    expected = f"error: {empty}: not a conversation log (it has no turns table)\n"
    assert capsys.readouterr().err == expected


async def test_turn_rates_of_a_stored_log(tmp_path):
    """Clarifications and ranked replies, written through the store's own write path."""
    from bot.analytics.figures import report_figures
    from bot.store.conversation_log import SQLiteConversationStore, TurnRecord, open_database

    store = await SQLiteConversationStore.open(tmp_path / "log.db")
    actions = ["clarify", "intent_response", "ranked_reply", "handoff", "handed_off"]
    for index, action in enumerate(actions):
        metadata = {"handoff_reason": "2 fallbacks in a row"} if action == "handoff" else {}
        record = TurnRecord(
            "c1", "rest", f"m{index}", "order_status", 0.5, False, action, [{"text": "r"}],
            None, {}, 1.0, "v1", created_at=1_000_000 + index, metadata=metadata,
        )  # fmt: skip
        await store.log_turn(record)
    await store.close()
    db = open_database(tmp_path / "log.db", read_only=True)
    report = report_figures(db, 0, 2_000_000)
    db.close()
    totals = report["totals"]
    # handed_off is the bot's silence, not a bot turn: 4 bot turns.
    assert totals["bot_turns"] == 4
    assert (totals["clarification_turns"], totals["clarification_rate"]) == (1, 0.25)
    assert (totals["ranked_reply_turns"], totals["ranked_reply_rate"]) == (1, 0.25)
    assert (totals["conversations"], totals["contained"], totals["abandoned"]) == (1, 0, 1)
    reasons = {row["reason"]: row["handoffs"] for row in report["handoff_reasons"]}
    assert reasons["repeated_fallbacks"] == 1
