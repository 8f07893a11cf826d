"""The chart contract and the drawing helpers every chart shares.

Charts draw on ``matplotlib.figure.Figure`` objects with an Agg canvas
attached, never through pyplot: no global figure manager holds them (nothing
to close, nothing leaks), they work headless from any thread, and no global
state (rcParams, styles) is read-modified-written. Styling is set on each
artist explicitly.

Time axes (``time_axis``) show elapsed time for short runs and local
wall-clock time for long ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from genmon.exporters.staging import StagedFiles
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.time_axis import StepAxis, TimeAxis
from genmon.plots.units import axis_unit, plural
from genmon.records.model_calls import model_call_mask

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
# Colour-blind-safe palette (Okabe-Ito); success green and error vermilion stay distinct.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
SUCCESS_COLOR = "#009E73"
ERROR_COLOR = "#D55E00"
LINE_COLOR = "#0072B2"
RAW_COLOR = "#7F7F7F"
TITLE_SIZE = 13
LABEL_SIZE = 11
TICK_SIZE = 9
# Drawing more points than pixels only costs time: raw points and lines are thinned to these.
MAX_SCATTER_POINTS = 5000
MAX_LINE_POINTS = 4000
FEW_POINTS = 30  # up to this many points, lines get markers so a lone point shows


@runtime_checkable
class Chart(Protocol):
    """One standard chart: a file name, the metrics it needs, and how to draw it on an Axes."""

    name: str

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        """True when the metrics this chart draws hold points."""
        ...

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        """Draw onto ``ax`` (title, labels, legend included)."""
        ...


def new_figure(figsize: tuple[float, float], dpi: int = DPI) -> Figure:
    """A Figure with its own Agg canvas, outside pyplot; constrained layout keeps labels inside."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi, layout="constrained", facecolor="white")
    FigureCanvasAgg(figure)
    return figure


def save_png(figure: Figure, path: Path) -> Path:
    """Write the figure as a PNG atomically (figsize x dpi pixels) and return ``path``."""
    with StagedFiles() as staged:
        figure.savefig(staged.path_for(path), format="png", dpi=figure.dpi, facecolor="white")
    return path


def style_axes(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    """Title, labels, light grid and tick sizes, set on this Axes only."""
    ax.set_title(title, fontsize=TITLE_SIZE, fontweight="bold", loc="left")
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.grid(True, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=TICK_SIZE)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` points (shorter at the start, like pandas min_periods=1)."""
    window = max(int(window), 1)
    sums = np.cumsum(values, dtype=np.float64)
    out = sums.copy()
    out[window:] = sums[window:] - sums[:-window]
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return out / counts


def auto_window(n: int, minimum: int = 10) -> int:
    """A rolling window that smooths long runs too: 10 points, or 1% of them when more."""
    return max(minimum, n // 100)


def thin(n: int, max_points: int) -> np.ndarray | slice:
    """Indices of at most ``max_points`` evenly spaced points, always keeping the last."""
    if n <= max_points:
        return slice(None)
    index = np.linspace(0, n - 1, max_points).astype(np.int64)
    return np.unique(index)


def unit_label(metric_name: str) -> str:
    """An axis label with the unit guessed from afterimage's metric naming: ``generation_time (s)``."""
    unit = axis_unit(metric_name)
    return f"{metric_name} ({unit})" if unit else metric_name


def call_window(data: Mapping[str, SeriesData]) -> int:
    """The rolling window (in calls) every panel of one figure uses: from the number of model calls."""
    times = data.get("generation_time")
    if times is not None:
        return auto_window(int(model_call_mask(times).sum()) or len(times))
    return auto_window(max((len(s) for s in data.values()), default=0))


def mean_label(window: int, n: int, noun: str = "call") -> str:
    """``mean of last 10 calls``; ``running mean`` while fewer points than the window were drawn."""
    return f"mean of last {plural(window, noun)}" if n > window else "running mean"


def draw_series_over_time(
    ax: Axes, series: SeriesData, window: int, color: str, label: str, axis: TimeAxis | StepAxis, raw: bool = True
) -> None:
    """Raw points (faint, thinned) and their trailing mean as a line; markers when there are few points."""
    x = axis.x(series.timestamps)
    few = len(series) <= FEW_POINTS
    if raw:
        keep = thin(len(series), MAX_SCATTER_POINTS)
        size, alpha = (28, 0.7) if few else (8, 0.25)
        ax.scatter(x[keep], series.values[keep], s=size, alpha=alpha, color=RAW_COLOR, linewidths=0, label="each point")
    keep = thin(len(series), MAX_LINE_POINTS)
    smooth = rolling_mean(series.values, window)
    ax.plot(x[keep], smooth[keep], color=color, linewidth=2, label=label, marker="o" if few else None, markersize=4)
    axis.apply(ax)
