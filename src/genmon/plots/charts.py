"""Drawing the standard charts to PNG files, and one metric over time.

Example:
    >>> from genmon.monitor.store.metric_store import MetricStore
    >>> store = MetricStore()
    >>> store.append_batch([("latency", float(i), 1.7e9 + i, None) for i in range(20)])
    >>> figure = plot_metric(store.series("latency"), rolling_window=5)
    >>> [int(v) for v in figure.get_size_inches()]
    [12, 8]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import DPI, LINE_COLOR, draw_series_over_time, new_figure, save_png, style_axes, unit_label
from genmon.plots.breakdowns import breakdown_charts
from genmon.plots.overview import NAME as OVERVIEW_NAME
from genmon.plots.overview import draw_overview
from genmon.plots.standard import standard_charts
from genmon.plots.time_axis import StepAxis, TimeAxis, series_by_step, time_axis
from genmon.plots.units import plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw_standard_charts(
    series_list: Sequence[SeriesData], figsize: tuple[float, float], dpi: int = DPI
) -> dict[str, Figure]:
    """Figures for every standard and per-model chart whose metrics hold points, plus the overview, by file stem."""
    data = {series.name: series for series in series_list if len(series)}
    standard = [chart for chart in standard_charts() if chart.available(data)]
    figures: dict[str, Figure] = {}
    for chart in [*standard, *(c for c in breakdown_charts() if c.available(data))]:
        figure = new_figure(figsize, dpi)
        chart.draw(figure.add_subplot(), data)
        figures[chart.name] = figure
    overview = draw_overview(standard, data, figsize)
    if overview is not None:
        figures[OVERVIEW_NAME] = overview
    return figures


def save_standard_charts(
    series_list: Sequence[SeriesData], save_dir: Path, figsize: tuple[float, float], dpi: int = DPI
) -> tuple[list[Path], dict[str, Figure]]:
    """Draw and save every available chart as ``<save_dir>/<name>.png``; return the paths and figures."""
    figures = draw_standard_charts(series_list, figsize, dpi)
    save_dir.mkdir(parents=True, exist_ok=True)
    paths = [save_png(figure, save_dir / f"{name}.png") for name, figure in figures.items()]
    return paths, figures


def plot_metric(series: SeriesData, rolling_window: int = 10, figsize: tuple[float, float] = (12, 8)) -> Figure:
    """One metric's points over time (over steps when they have steps) with their trailing mean over ``rolling_window`` points."""
    if isinstance(rolling_window, bool) or not isinstance(rolling_window, int) or rolling_window < 1:
        raise ValueError(f"rolling_window must be a positive number of points, got {rolling_window!r}")
    figure = new_figure(figsize)
    ax = figure.add_subplot()
    label = f"mean of last {plural(rolling_window, 'point')}"
    stepped = series_by_step(series)
    if stepped is None:
        axis: TimeAxis | StepAxis = time_axis([series.timestamps])
        title = f"{series.name} over time ({plural(len(series), 'point')})"
    else:  # a loop's metric: against its steps
        series, unstepped = stepped
        axis = StepAxis(float(series.timestamps[0]), float(series.timestamps[-1]))
        title = f"{series.name} by step ({plural(len(series), 'point')})"
        if unstepped:
            title += f"; {plural(unstepped, 'point')} without a step not drawn"
    draw_series_over_time(ax, series, rolling_window, LINE_COLOR, label, axis)
    style_axes(ax, title, axis.label, unit_label(series.name))
    ax.legend(loc="best", fontsize=9, framealpha=0.9)
    return figure
