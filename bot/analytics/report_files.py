"""`supportbot report`'s files: report.json, a CSV per table, PNG charts and report.html."""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

from bot.analytics.charts import all_charts, worst_intent_rows


def tables(report: dict) -> dict[str, list[dict]]:
    """Every table of the report, by the CSV name it is written under."""
    found = {f"by_{cut}": rows for cut, rows in report["cuts"].items()}
    found["handoff_reasons"] = report["handoff_reasons"]
    found["worst_intents"] = worst_intent_rows(report)
    found["unanswered_clusters"] = [
        {"size": c["size"], "examples": " | ".join(c["examples"])}
        for c in report["unanswered"]["clusters"]
    ]
    found["model_versions"] = report["model_versions"]
    return found


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_report(report: dict, out: Path) -> list[Path]:
    """Write every file into `out` (created); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "report.json"]
    written[0].write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    for name, rows in tables(report).items():
        path = out / f"{name}.csv"
        path.write_text(csv_text(rows), encoding="utf-8")
        written.append(path)
    charts = all_charts(report)
    for name, png in charts.items():
        path = out / f"{name}.png"
        path.write_bytes(png)
        written.append(path)
    page = out / "report.html"
    page.write_text(report_html(report, {n: f"{n}.png" for n in charts}), encoding="utf-8")
    return [*written, page]


def inline_charts(report: dict) -> dict[str, str]:
    """The charts as data: URLs, for a page served without files beside it."""
    return {
        name: "data:image/png;base64," + base64.b64encode(png).decode()
        for name, png in all_charts(report).items()
    }


def report_html(report: dict, chart_sources: dict[str, str], form: str = "") -> str:
    """One page: the headline figures, the charts and the tables. Every value is escaped."""
    totals = report["totals"]
    headline = [
        ("Conversations", totals["conversations"]),
        ("Containment", _percent(totals["containment_rate"])),
        ("Handoff rate", _percent(totals["handoff_rate"])),
        ("Abandonment", _percent(totals["abandonment_rate"])),
        ("Fallback rate (turns)", _percent(totals["fallback_rate"])),
        ("Clarification rate", _percent(totals["clarification_rate"])),
        ("KB answer rate", _percent(totals["kb_answer_rate"])),
        ("Ranked reply rate", _percent(totals["ranked_reply_rate"])),
        ("Thumbs up / down", f"{totals['thumbs_up']} / {totals['thumbs_down']}"),
        ("Survey", _survey(report)),
        ("First human reply", _agent(report, "first_human_reply_seconds")),
        ("Handling time", _agent(report, "handling_seconds")),
    ]
    cards = "".join(
        f'<div class="card"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>'
        for k, v in headline
    )
    images = "".join(
        f'<figure><img alt="{_e(name)}" src="{_e(src)}"></figure>'
        for name, src in chart_sources.items()
    )
    sections = "".join(_table_html(name, rows) for name, rows in tables(report).items() if rows)
    span = report["range"]
    return PAGE.format(
        since=_e(span["since"]),
        until=_e(span["until"]),
        form=form,
        cards=cards,
        images=images,
        tables=sections,
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _survey(report: dict) -> str:
    survey = report["satisfaction"].get("survey")
    if not survey or survey["mean"] is None:
        return "absent"
    return f"{survey['mean']} / 5 ({survey['responses']})"


def _agent(report: dict, key: str) -> str:
    value = report["agent"].get(key)
    return "absent" if value is None else f"median {value['median']} s"


def _table_html(name: str, rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<h2>{_e(name.replace('_', ' '))}</h2><table><tr>{head}</tr>{body}</table>"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>supportbot report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
.cards {{ display: flex; flex-wrap: wrap; gap: .6rem; }}
.card {{ border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }}
.card .v {{ font-size: 1.4rem; font-weight: 600; }} .card .k {{ color: #666; font-size: .85rem; }}
figure {{ display: inline-block; margin: .5rem; }} img {{ max-width: 720px; }}
table {{ border-collapse: collapse; font-size: .8rem; margin-bottom: 1rem; }}
td, th {{ border: 1px solid #ddd; padding: 2px 6px; text-align: left; }}
</style></head><body>
<h1>Is the bot helping?</h1>
<p>Conversations that started from {since} until {until} (UTC).</p>
{form}
<div class="cards">{cards}</div>
<div>{images}</div>
{tables}
</body></html>
"""
