"""`supportbot report`: the support analytics of a conversation log, written as
report.json, a CSV per table, PNG charts and report.html (docs/analytics.md)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from supportbot.cli.arguments import existing_log
from supportbot.cli.types import float_between
from supportbot.errors import SupportbotError

DATE_HELP = "YYYY-MM-DD (UTC) or an ISO 8601 time"  # bot.analytics.time_range.DATE_FORMS


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="support analytics: containment, handoffs, ...")
    report.add_argument("--db", required=True, help="SQLite conversation log")
    report.add_argument("--since", type=report_time, help=f"first day, {DATE_HELP}")
    report.add_argument("--until", type=report_time_end, help=f"last day (inclusive), {DATE_HELP}")
    report.add_argument("--out", type=Path, required=True, help="folder for the report files")
    report.add_argument(
        "--model", type=Path, help="model (or registry) whose encoder clusters the questions"
    )
    report.add_argument(
        "--return-window-hours",
        type=float_between(0, 24 * 365),
        default=24.0,
        help="a customer back with the same question within this is not contained",
    )
    report.add_argument(
        "--session-gap-minutes",
        type=float_between(0, 24 * 60 * 365),
        default=30.0,
        help="silence that ends a conversation",
    )
    report.set_defaults(run=run_report)


def report_time(text: str) -> float:
    """The start of the day (or the exact time) as a UTC timestamp."""
    from bot.analytics.time_range import parse_time

    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def report_time_end(text: str) -> float:
    """A day includes all of itself: `--until 2026-12-07` ends at midnight after it."""
    from bot.analytics.time_range import parse_time

    try:
        return parse_time(text, end=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_report(args: argparse.Namespace) -> int:
    from bot.analytics.figures import ReportSettings, by_text, report_figures
    from bot.analytics.report_files import write_report
    from bot.store.conversation_log import open_database

    since = args.since if args.since is not None else 0.0
    until = args.until if args.until is not None else datetime.now(UTC).timestamp() + 1
    if since >= until:
        raise SupportbotError("--since: must be before --until")
    if args.out.exists() and not args.out.is_dir():
        raise SupportbotError(f"{args.out}: --out must be a folder, and this is a file")
    settings = ReportSettings(args.session_gap_minutes, args.return_window_hours)
    cluster = _model_clusterer(args.model) if args.model else by_text
    db = open_database(existing_log(args.db), read_only=True)
    try:
        if "turns" not in db.table_names():
            raise SupportbotError(f"{args.db}: not a conversation log (it has no turns table)")
        report = report_figures(db, since, until, settings, cluster)
    finally:
        db.close()
    try:
        written = write_report(report, args.out)
    except OSError as exc:
        raise SupportbotError(f"{args.out}: cannot write the report ({exc.strerror})") from exc
    totals = report["totals"]
    print(
        f"{totals['conversations']} conversation(s), containment "
        f"{_percent(totals['containment_rate'])}, handoff rate {_percent(totals['handoff_rate'])}"
    )
    print(f"{len(written)} file(s) written to {args.out}")
    return 0


def _model_clusterer(model_path: Path):
    from bot.analytics.clusters import model_clusterer
    from retrieval.bot_model import BotModel
    from retrieval.model_registry import resolve_model_dir

    return model_clusterer(BotModel.load(resolve_model_dir(model_path)))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
