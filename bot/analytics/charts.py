"""The report's charts as PNG bytes (matplotlib, Agg: no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

CHARTS = ("containment_over_time", "handoff_reasons", "worst_intents", "unanswered_clusters")


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def containment_over_time(report: dict) -> bytes:
    """Containment and handoff rate per day, each model version marked where it started."""
    rows = report["cuts"]["day"]
    figure, axes = plt.subplots(figsize=(8, 3.5))
    days = [row["day"] for row in rows]
    axes.plot(days, [row["containment_rate"] or 0 for row in rows], marker="o", label="containment")
    axes.plot(days, [row["handoff_rate"] or 0 for row in rows], marker="s", label="handoff rate")
    for mark in report["model_versions"]:
        day = mark["first_seen"][:10]
        if day in days:
            axes.axvline(days.index(day), color="grey", linestyle=":")
            axes.annotate(mark["model_version"], (days.index(day), 1.0), fontsize=7, rotation=90)
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("share of conversations")
    axes.legend(loc="lower left")
    axes.tick_params(axis="x", labelrotation=45)
    return _png(figure)


def _bars(labels: list[str], values: list[float], title: str, xlabel: str) -> bytes:
    figure, axes = plt.subplots(figsize=(8, max(2.0, 0.4 * len(labels) + 1)))
    axes.barh(labels[::-1], values[::-1])
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    return _png(figure)


def handoff_reasons(report: dict) -> bytes:
    rows = report["handoff_reasons"]
    return _bars(
        [r["reason"] for r in rows], [r["handoffs"] for r in rows], "Handoffs by reason", "handoffs"
    )


def worst_intents(report: dict) -> bytes:
    rows = worst_intent_rows(report)
    labels = [r["intent"] for r in rows]
    values = [max(r["fallback_rate"] or 0, r["thumbs_down_rate"] or 0) for r in rows]
    return _bars(labels, values, "Worst intents (fallback or thumbs-down rate)", "rate")


def unanswered_clusters(report: dict) -> bytes:
    rows = report["unanswered"]["clusters"]
    labels = [_short(r["examples"][0]) if r["examples"] else "?" for r in rows]
    return _bars(labels, [r["size"] for r in rows], "Top unanswered questions", "messages")


def worst_intent_rows(report: dict, limit: int = 10) -> list[dict]:
    """Intents ranked by the worse of their fallback and thumbs-down rates."""
    rows = [r for r in report["cuts"]["intent"] if r["intent"] != "(none)"]

    def badness(row: dict) -> float:
        return max(row["fallback_rate"] or 0, row["thumbs_down_rate"] or 0)

    return sorted(rows, key=lambda r: (-badness(r), r["intent"]))[:limit]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def all_charts(report: dict) -> dict[str, bytes]:
    drawers = {
        "containment_over_time": containment_over_time,
        "handoff_reasons": handoff_reasons,
        "worst_intents": worst_intents,
        "unanswered_clusters": unanswered_clusters,
    }
    return {name: drawers[name](report) for name in CHARTS}
