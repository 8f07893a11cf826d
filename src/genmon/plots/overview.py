"""overview.png: every available standard chart on one page, under a one-line run summary."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from genmon.exporters.columns import local_wall_micros
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import (
    LINE_COLOR,
    Chart,
    auto_window,
    draw_series_over_time,
    new_figure,
    style_axes,
    time_axis_label,
    unit_label,
)

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
    """``genmon overview: 1,200 calls, 97.5% succeeded, p50 1.2 s, p95 3.4 s, 2.1M tokens, 10:00-11:30``."""
    parts = ["genmon overview"]
    details = []
    times = data.get("generation_time")
    if times is not None:
        p50, p95 = np.percentile(times.values, [50, 95]).tolist()
        details.append(f"{len(times):,} calls")
        success = data.get("success_rate")
        if success is not None:
            details.append(f"{100.0 * float(success.values.mean()):.1f}% succeeded")
        details.append(f"p50 {p50:.3g} s, p95 {p95:.3g} s")
    tokens = data.get("total_token_count")
    if tokens is not None:
        details.append(f"{_compact(float(tokens.values.sum()))} tokens")
    first = min(float(s.timestamps[0]) for s in data.values())
    last = max(float(s.timestamps[-1]) for s in data.values())
    wall, _ = local_wall_micros(np.array([first, last]))
    start, end = (wall // 1_000_000).view("datetime64[s]").astype(str).tolist()
    details.append(f"{start.replace('T', ' ')} to {end[11:] if start[:10] == end[:10] else end.replace('T', ' ')}")
    return parts[0] + ": " + ", ".join(details)


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
        draw_series_over_time(ax, series, window, LINE_COLOR, f"mean of last {window} points")  # type: ignore[arg-type]
        style_axes(ax, self.name, time_axis_label(series.timestamps), unit_label(self.name))  # type: ignore[arg-type]
