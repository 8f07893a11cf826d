"""The chart contract and the drawing helpers every chart shares.

Charts draw on ``matplotlib.figure.Figure`` objects with an Agg canvas
attached, never through pyplot: no global figure manager holds them (nothing
to close, nothing leaks), they work headless from any thread, and no global
state (rcParams, styles) is read-modified-written. Styling is set on each
artist explicitly.

Time axes show local wall-clock time: points are stored as epoch seconds and
converted to naive local datetimes with the UTC offset in force at each point.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from genmon.exporters.columns import local_wall_micros, offset_text
from genmon.exporters.staging import StagedFiles
from genmon.monitor.store.series_data import SeriesData

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


def local_times(ts: np.ndarray) -> np.ndarray:
    """Naive local wall-clock ``datetime64[us]`` for epoch seconds, for time axes."""
    wall, _ = local_wall_micros(ts)
    return wall.view("datetime64[us]")


def time_axis_label(ts: np.ndarray) -> str:
    """``Local time (UTC+01:00)``: the offsets in force over the points drawn."""
    _, offsets = local_wall_micros(ts[[0, -1]] if len(ts) else ts)
    texts = sorted({offset_text(o) for o in offsets.tolist()}) or ["?"]
    return f"Local time (UTC{'/'.join(texts)})"


def format_time_axis(ax: Axes) -> None:
    """Concise date ticks that adapt to the span (seconds to months)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


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
    """An axis label with the unit guessed from afterimage's metric naming."""
    name = metric_name.lower()
    if name.endswith(("_time", "_seconds", "_duration", "latency")):
        return f"{metric_name} (s)"
    if name.endswith(("_token_count", "_tokens")):
        return f"{metric_name} (tokens)"
    if name.endswith("_rate"):
        return f"{metric_name} (0-1)"
    if name.endswith(("_percent", "_pct")):
        return f"{metric_name} (%)"
    if name.endswith(("_bytes", "_mb")):
        return f"{metric_name} ({'bytes' if name.endswith('_bytes') else 'MB'})"
    return metric_name


def draw_series_over_time(ax: Axes, series: SeriesData, window: int, color: str, label: str, raw: bool = True) -> None:
    """Raw points (faint, thinned) and their trailing mean as a line, on a local-time axis."""
    times = local_times(series.timestamps)
    if raw:
        keep = thin(len(series), MAX_SCATTER_POINTS)
        ax.scatter(times[keep], series.values[keep], s=8, alpha=0.25, color=RAW_COLOR, linewidths=0, label="each point")
    keep = thin(len(series), MAX_LINE_POINTS)
    smooth = rolling_mean(series.values, window)
    ax.plot(times[keep], smooth[keep], color=color, linewidth=2, label=label)
    format_time_axis(ax)
