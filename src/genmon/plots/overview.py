"""overview.png: every available standard chart on one page, under a one-line run summary."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from genmon.exporters.calls import headline as calls_headline
from genmon.exporters.columns import local_wall_micros
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import (
    LINE_COLOR,
    Chart,
    auto_window,
    draw_series_over_time,
    mean_label,
    new_figure,
    style_axes,
    unit_label,
)
from genmon.plots.time_axis import time_axis
from genmon.plots.units import format_percent, format_seconds, format_usd, plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NAME = "overview"
PANEL_HEIGHT = 3.6  # inches per row of panels: legible tick labels at 100 dpi
MIN_WIDTH = 14.0
MAX_CUSTOM_PANELS = 6


def overview_size(figsize: tuple[float, float], panels: int) -> tuple[float, float]:
    """The overview's size in inches: two panels a row, at least ``MIN_WIDTH`` wide."""
    rows = max(1, math.ceil(panels / 2))
    return (max(float(figsize[0]), MIN_WIDTH), 0.9 + PANEL_HEIGHT * rows)


def draw_overview(
    charts: Sequence[Chart], data: Mapping[str, SeriesData], figsize: tuple[float, float]
) -> Figure | None:
    """A dashboard of ``charts``; with none, small multiples of up to six other metrics; None if no data."""
    panels: list[Chart] = list(charts)
    if not panels:
        panels = [_MetricPanel(name) for name in list(data)[:MAX_CUSTOM_PANELS]]
    if not panels:
        return None
    figure = new_figure(overview_size(figsize, len(panels)))
    rows = math.ceil(len(panels) / 2)
    grid = figure.add_gridspec(rows, 2)
    for index, chart in enumerate(panels):
        # A lone last panel spans the whole row instead of leaving a hole.
        span = grid[index // 2, :] if index == len(panels) - 1 and index % 2 == 0 else grid[index // 2, index % 2]
        chart.draw(figure.add_subplot(span), data)
    figure.suptitle(headline(data), fontsize=13, x=0.01, horizontalalignment="left")
    return figure


def headline(data: Mapping[str, SeriesData]) -> str:
    """Two lines: model calls (wrappers apart), then tokens, cost and the time range.

    ``genmon overview: 352 model calls, 8.4% failed, p50 40.7 ms, p95 107 ms; wrappers apart: CHAIN 121``
    and ``102k tokens; $0.388; 2026-01-01 10:00:00 to 10:00:02 (2.4 s)``.
    """
    figures = calls_headline(list(data.values()))
    calls, totals = [], []
    model = figures.model
    if model.calls:
        text = plural(model.calls, "model call")
        if model.error_rate is not None:
            text += f", {format_percent(model.error_rate)} failed"
        calls.append(f"{text}, p50 {format_seconds(model.p50)}, p95 {format_seconds(model.p95)}")
    if figures.wrappers:
        calls.append("wrappers apart: " + ", ".join(f"{w.label} {w.calls:,}" for w in figures.wrappers))
    if figures.total_tokens is not None:
        totals.append(f"{_compact(figures.total_tokens)} tokens")
    if figures.cost_usd is not None:
        totals.append(format_usd(figures.cost_usd))
    if figures.start is not None and figures.end is not None:
        wall, _ = local_wall_micros(np.array([figures.start, figures.end]))
        start, end = (wall // 1_000_000).view("datetime64[s]").astype(str).tolist()
        same_day = start[:10] == end[:10]
        if figures.end == figures.start:
            totals.append(f"at {start.replace('T', ' ')}")
        else:
            span = f"{start.replace('T', ' ')} to {end[11:] if same_day else end.replace('T', ' ')}"
            totals.append(f"{span} ({format_seconds(figures.end - figures.start)})")
    lines = ["; ".join(part) for part in (calls, totals) if part]
    return "genmon overview: " + "\n".join(lines)


def _compact(number: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(number) >= limit:
            return f"{number / limit:.3g}{suffix}"
    return f"{number:.0f}"


class _MetricPanel:
    """A metric that no standard chart draws, as points and a rolling mean over time."""

    def __init__(self, metric: str) -> None:
        self.name = metric

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return self.name in data

    def draw(self, ax: object, data: Mapping[str, SeriesData]) -> None:
        series = data[self.name]
        window = auto_window(len(series))
        axis = time_axis([series.timestamps])
        draw_series_over_time(ax, series, window, LINE_COLOR, mean_label(window, len(series), "point"), axis)  # type: ignore[arg-type]
        style_axes(ax, f"{self.name} ({plural(len(series), 'point')})", axis.label, unit_label(self.name))  # type: ignore[arg-type]
