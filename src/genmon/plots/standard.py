"""The standard charts, with afterimage's file names, drawn from the metrics afterimage records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import (
    ERROR_COLOR,
    LINE_COLOR,
    MAX_LINE_POINTS,
    PALETTE,
    SUCCESS_COLOR,
    Chart,
    auto_window,
    draw_series_over_time,
    format_time_axis,
    local_times,
    rolling_mean,
    style_axes,
    thin,
    time_axis_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

EVALUATION_SCORE_PREFIX = "evaluation_score_"


class RateChart:
    """success_error_rate.png: rolling success and error rates of generation calls over time."""

    name = "success_error_rate"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return "success_rate" in data or "error_rate" in data

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        drawn = [data[m] for m in ("success_rate", "error_rate") if m in data]
        for metric, color, label in (("success_rate", SUCCESS_COLOR, "success"), ("error_rate", ERROR_COLOR, "error")):
            series = data.get(metric)
            if series is None:
                continue
            window = auto_window(len(series))
            keep = thin(len(series), MAX_LINE_POINTS)
            rate = rolling_mean(series.values, window) * 100.0
            times = local_times(series.timestamps)
            ax.plot(
                times[keep], rate[keep], color=color, linewidth=2, label=f"{label} rate (mean of last {window} calls)"
            )
        ax.set_ylim(-3, 103)
        format_time_axis(ax)
        style_axes(ax, "Success and error rates over time", time_axis_label(drawn[0].timestamps), "Rate (%)")
        ax.legend(loc="best", fontsize=9, framealpha=0.9)


class DistributionChart:
    """A latency histogram with the median and p95 marked (generation_time.png, evaluation_time.png)."""

    def __init__(self, metric: str, title: str, xlabel: str) -> None:
        self.name = metric
        self.metric = metric
        self.title = title
        self.xlabel = xlabel

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return self.metric in data

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        values = data[self.metric].values
        bins = min(60, max(10, int(np.sqrt(len(values)))))
        ax.hist(values, bins=bins, color=LINE_COLOR, alpha=0.75, edgecolor="white", linewidth=0.5)
        p50, p95 = np.percentile(values, [50, 95]).tolist()
        ax.axvline(p50, color=SUCCESS_COLOR, linewidth=2, linestyle="--", label=f"p50 = {p50:.3g} s")
        ax.axvline(p95, color=ERROR_COLOR, linewidth=2, linestyle="--", label=f"p95 = {p95:.3g} s")
        style_axes(ax, f"{self.title} ({len(values):,} calls)", self.xlabel, "Calls")
        ax.legend(loc="upper right", fontsize=9, framealpha=0.9)


class TokenChart:
    """prompt/completion/total_token_count.png: tokens per call over time with a rolling mean."""

    def __init__(self, metric: str, title: str) -> None:
        self.name = metric
        self.metric = metric
        self.title = title

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return self.metric in data

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        series = data[self.metric]
        window = auto_window(len(series))
        draw_series_over_time(ax, series, window, LINE_COLOR, f"mean of last {window} calls")
        total = float(series.values.sum())
        style_axes(
            ax, f"{self.title} ({total:,.0f} tokens in all)", time_axis_label(series.timestamps), "Tokens per call"
        )
        ax.legend(loc="upper left", fontsize=9, framealpha=0.9)


class EvaluationScoresChart:
    """evaluation_scores.png: the rolling mean of every ``evaluation_score_*`` metric over time."""

    name = "evaluation_scores"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return any(name.startswith(EVALUATION_SCORE_PREFIX) for name in data)

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        names = [name for name in data if name.startswith(EVALUATION_SCORE_PREFIX)]
        for index, name in enumerate(names):
            series = data[name]
            window = auto_window(len(series), minimum=5)
            keep = thin(len(series), MAX_LINE_POINTS)
            score = rolling_mean(series.values, window)
            label = name[len(EVALUATION_SCORE_PREFIX) :].replace("_", " ")
            times = local_times(series.timestamps)
            ax.plot(times[keep], score[keep], color=PALETTE[index % len(PALETTE)], linewidth=2, label=label)
        format_time_axis(ax)
        first = data[names[0]].timestamps
        style_axes(ax, "Evaluation scores over time (rolling mean)", time_axis_label(first), "Score")
        ax.legend(loc="best", fontsize=9, framealpha=0.9, ncol=1 if len(names) < 5 else 2)


def standard_charts() -> list[Chart]:
    """The standard charts in afterimage's order."""
    return [
        RateChart(),
        DistributionChart("generation_time", "Generation time distribution", "Generation time (s)"),
        TokenChart("prompt_token_count", "Prompt tokens per call"),
        TokenChart("completion_token_count", "Completion tokens per call"),
        TokenChart("total_token_count", "Total tokens per call"),
        EvaluationScoresChart(),
        DistributionChart("evaluation_time", "Evaluation time distribution", "Evaluation time (s)"),
    ]
