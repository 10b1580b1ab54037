"""`/admin/analytics`: the support report in the browser, for a date range.

    GET /admin/analytics                          the page (no data in it; it asks for the token)
    GET /admin/analytics/report?since=&until=     the figures as JSON, with the page's HTML

The report is computed on a thread of its own over a read-only connection to the log
file, one report at a time: never on the event loop, never on the log's writer thread or
connection, so serving goes on while the queries run.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from aiohttp import web

from bot import STATIC
from bot.analytics.clusters import Encodes, model_clusterer
from bot.analytics.figures import ReportSettings, by_text, report_figures
from bot.analytics.report_files import inline_charts, report_html
from bot.analytics.time_range import now, parse_time
from bot.app_keys import DEPS
from bot.server.auth import admin_only
from bot.server.http_errors import RequestError
from bot.store.conversation_log import open_database

PAGE = STATIC / "analytics.html"
DEFAULT_DAYS = 30
NO_FILE = "the conversation log is not a file; analytics need a SQLite log file"
REPORTS = web.AppKey("analytics_reports", ThreadPoolExecutor)


def add_analytics_routes(app: web.Application) -> None:
    app.router.add_get("/admin/analytics", analytics_page)
    app.router.add_get("/admin/analytics/report", admin_only(analytics_report))
    app.cleanup_ctx.append(_reports_thread)


async def _reports_thread(app: web.Application):
    app[REPORTS] = ThreadPoolExecutor(1, thread_name_prefix="analytics")
    yield
    app[REPORTS].shutdown(wait=True)


async def analytics_page(request: web.Request) -> web.StreamResponse:
    response = web.FileResponse(PAGE)
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def analytics_report(request: web.Request) -> web.Response:
    since, until = _range(request.query.get("since"), request.query.get("until"))
    deps = request.app[DEPS]
    path = getattr(deps.store, "path", None)
    if path is None or str(path) == ":memory:" or not Path(path).is_file():
        raise RequestError(NO_FILE, status=501)
    current = getattr(deps.model, "current", deps.model)  # a hot-swap holder's model now
    cluster = model_clusterer(current) if isinstance(current, Encodes) else by_text
    work = partial(_report, Path(path), since, until, cluster)
    report, charts = await asyncio.get_running_loop().run_in_executor(request.app[REPORTS], work)
    response = web.json_response({"report": report, "html": report_html(report, charts)})
    response.headers["Cache-Control"] = "no-store"
    return response


def _range(since_text: str | None, until_text: str | None) -> tuple[float, float]:
    try:
        until = parse_time(until_text, end=True) if until_text else now()
        since = parse_time(since_text) if since_text else until - DEFAULT_DAYS * 86400
    except ValueError as exc:
        field = "until" if until_text and _bad(until_text) else "since"
        raise RequestError(f"{field}: {exc}") from None
    if since >= until:
        raise RequestError("since: must be before until")
    return since, until


def _bad(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return True
    return False


def _report(path: Path, since: float, until: float, cluster) -> tuple[dict, dict[str, str]]:
    db = open_database(path, read_only=True)
    try:
        report = report_figures(db, since, until, ReportSettings(), cluster)
    finally:
        db.close()
    return report, inline_charts(report)
