"""The pictures in a `supportbot eval` report folder: confusion matrix, confidence histogram
and reliability diagram.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so evaluation never needs
a display and never changes the process-wide backend or leaks figures between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import confusion_matrix

CORRECT_COLOUR = "#2a9d8f"
WRONG_COLOUR = "#e76f51"
DPI = 100
SMALLEST_TICK_FONT = 4.0
"""Below this size tick labels are unreadable, so they are left off."""
ANNOTATE_UP_TO = 20
"""Cell counts are written into the matrix only while cells are big enough to hold them."""


@dataclass(frozen=True)
class ConfusionLayout:
    """How big to draw a confusion matrix over `labels` labels, and what fits in it."""

    inches: float
    tick_font: float
    show_ticks: bool
    annotate: bool


@dataclass(frozen=True)
class ReliabilityBins:
    """Per equal-width confidence bin: how many examples, their accuracy and mean confidence
    (NaN for empty bins, so they are simply not drawn)."""

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray


def confusion_layout(labels: int) -> ConfusionLayout:
    """About 0.16 inch per label (6 to 30 inches a side) with the tick font fitted to a row,
    so 8 labels get a roomy annotated grid and 150 labels still get readable 7-8 pt names."""
    inches = float(np.clip(0.16 * labels + 3.0, 6.0, 30.0))
    row_points = 72.0 * 0.75 * inches / max(labels, 1)
    tick_font = round(min(10.0, 0.8 * row_points), 1)
    return ConfusionLayout(
        inches=inches,
        tick_font=tick_font,
        show_ticks=tick_font >= SMALLEST_TICK_FONT,
        annotate=labels <= ANNOTATE_UP_TO,
    )


def plot_confusion_matrix(truth: list[str], predicted: list[str], path: Path) -> Path:
    """True label (rows) against predicted label (columns), over the labels that occur.

    Colour follows a square-root scale of the counts, so a single confusion stays visible next
    to a diagonal of hundreds; empty cells stay white.
    """
    labels = sorted(set(truth) | set(predicted))
    matrix = confusion_matrix(truth, predicted, labels=labels)
    layout = confusion_layout(len(labels))
    figure = Figure(figsize=(layout.inches, layout.inches), layout="constrained")
    axes = figure.add_subplot()
    shown = np.ma.masked_equal(matrix, 0)
    image = axes.imshow(shown, cmap="Blues", norm=PowerNorm(0.5, vmin=0, vmax=matrix.max()))
    ticks = MaxNLocator(integer=True)
    figure.colorbar(image, ax=axes, shrink=0.6, label="examples", ticks=ticks)
    _label_matrix_axes(axes, labels, layout)
    if layout.annotate:
        _annotate_counts(axes, matrix)
    axes.set_title(f"Intent confusion matrix ({len(labels)} labels, {len(truth)} examples)")
    return _save(figure, path)


def _label_matrix_axes(axes, labels: list[str], layout: ConfusionLayout) -> None:
    axes.set_xlabel("predicted intent")
    axes.set_ylabel("true intent")
    if not layout.show_ticks:
        axes.set_xticks([])
        axes.set_yticks([])
        return
    positions = np.arange(len(labels))
    axes.set_xticks(positions, labels, rotation=90, fontsize=layout.tick_font)
    axes.set_yticks(positions, labels, fontsize=layout.tick_font)


def _annotate_counts(axes, matrix: np.ndarray) -> None:
    threshold = matrix.max() / 2
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            colour = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=colour)


def plot_confidence_histogram(confidence: np.ndarray, correct: np.ndarray, path: Path) -> Path:
    """Side-by-side histograms of confidence for right and wrong predictions: confident
    mistakes (wrong bars on the right) are the ones a threshold cannot catch."""
    correct = np.asarray(correct, dtype=bool)
    figure = Figure(figsize=(8, 5), layout="constrained")
    axes = figure.add_subplot()
    axes.hist(
        [confidence[correct], confidence[~correct]],
        bins=np.linspace(0.0, 1.0, 21),
        color=[CORRECT_COLOUR, WRONG_COLOUR],
        label=[f"correct ({int(correct.sum())})", f"wrong ({int((~correct).sum())})"],
    )
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("confidence of the top intent")
    axes.set_ylabel("examples")
    axes.set_title("Intent prediction confidence")
    axes.legend()
    return _save(figure, path)


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 15
) -> ReliabilityBins:
    """Bin exactly as training.calibration.expected_calibration_error does, so the diagram
    shows the gaps that the ECE in its title averages."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(which, weights=correct, minlength=bins) / counts
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / counts
    return ReliabilityBins(edges, counts, accuracy, mean_confidence)


def plot_reliability(
    confidence: np.ndarray, correct: np.ndarray, ece: float | None, path: Path, bins: int = 15
) -> Path:
    """Accuracy per confidence bin against the diagonal of perfect calibration, each bar
    labelled with its example count; bars under the diagonal mean over-confidence."""
    stats = reliability_bins(confidence, correct, bins)
    width = 1.0 / bins
    figure = Figure(figsize=(6, 6), layout="constrained")
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    filled = stats.counts > 0
    bars = axes.bar(
        stats.edges[:-1][filled],
        stats.accuracy[filled],
        width=width,
        align="edge",
        color=CORRECT_COLOUR,
        edgecolor="black",
        label="accuracy",
    )
    axes.bar_label(bars, labels=[str(c) for c in stats.counts[filled]], fontsize=7, padding=2)
    axes.set_xlim(0.0, 1.0)
    axes.set_ylim(0.0, 1.08)
    axes.set_xlabel("confidence of the top intent")
    axes.set_ylabel("accuracy of the top intent")
    ece_text = "n/a" if ece is None else f"{ece:.3f}"
    axes.set_title(f"Reliability, in-scope examples (ECE = {ece_text}, n = {len(confidence)})")
    axes.legend(loc="upper left")
    return _save(figure, path)


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)
    return path
