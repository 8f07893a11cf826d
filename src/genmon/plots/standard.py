"""The standard charts, with afterimage's file names, drawn from the metrics afterimage records.

Call figures (rates and the latency histogram) are drawn over model calls
(``genmon.records.model_calls``): wrappers such as a batch call or an
evaluator would otherwise stretch the histogram and dilute the error rate.
Every panel over time smooths with the same window, counted in model calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from genmon.monitor.store.series_data import SeriesData
from genmon.plots.base import (
    ERROR_COLOR,
    FEW_POINTS,
    LINE_COLOR,
    MAX_LINE_POINTS,
    PALETTE,
    SUCCESS_COLOR,
    Chart,
    call_window,
    draw_series_over_time,
    mean_label,
    rolling_mean,
    style_axes,
    thin,
)
from genmon.plots.time_axis import time_axis
from genmon.plots.units import format_seconds, plural, time_scale
from genmon.records.model_calls import model_calls

if TYPE_CHECKING:
    from matplotlib.axes import Axes

EVALUATION_SCORE_PREFIX = "evaluation_score_"
CLIP_MIN_POINTS = 20  # below this, every call is drawn: a p99 of a handful of calls is their maximum


class RateChart:
    """success_error_rate.png: rolling success and error rates of model calls over time."""

    name = "success_error_rate"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return "success_rate" in data or "error_rate" in data

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        drawn = {m: _calls(data[m]) for m in ("success_rate", "error_rate") if m in data}
        axis = time_axis(s.timestamps for s in drawn.values())
        window = call_window(data)
        calls = max(len(s) for s in drawn.values())
        for metric, color, label in (("success_rate", SUCCESS_COLOR, "success"), ("error_rate", ERROR_COLOR, "error")):
            series = drawn.get(metric)
            if series is None:
                continue
            keep = thin(len(series), MAX_LINE_POINTS)
            rate = rolling_mean(series.values, window) * 100.0
            ax.plot(
                axis.x(series.timestamps)[keep],
                rate[keep],
                color=color,
                linewidth=2,
                marker="o" if len(series) <= FEW_POINTS else None,
                markersize=4,
                label=f"{label} rate ({mean_label(window, len(series))})",
            )
        ax.set_ylim(-3, 103)
        axis.apply(ax)
        style_axes(ax, f"Success and error rates of model calls ({plural(calls, 'call')})", axis.label, "Rate (%)")
        ax.legend(loc="best", fontsize=9, framealpha=0.9)


class DistributionChart:
    """A latency histogram with p50 and p95 marked (generation_time.png over model calls, evaluation_time.png).

    With 20 calls or more, the bins stop at the p99 and the calls beyond it
    are counted in the legend, so one slow outlier cannot squeeze the rest
    into a single bar.
    """

    def __init__(
        self, metric: str, title: str, xlabel: str, over_model_calls: bool = False, noun: str = "call"
    ) -> None:
        self.name = metric
        self.metric = metric
        self.title = title
        self.xlabel = xlabel
        self.over_model_calls = over_model_calls
        self.noun = noun

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return self.metric in data

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        series = data[self.metric]
        title = self.title
        if self.over_model_calls:
            selected = model_calls(series)
            if len(selected):
                series = selected
            else:
                title = self.title.replace("Model call", "Tracked call")  # only wrappers: draw them, and say so
        values = series.values
        p50, p95, p99 = np.percentile(values, [50, 95, 99]).tolist()
        scale, unit = time_scale(p99)
        clipped = values[values > p99] if len(values) >= CLIP_MIN_POINTS else values[:0]
        shown = values[values <= p99] if len(clipped) else values
        bins = min(60, max(10, int(np.sqrt(len(shown)))))
        low, high = float(shown.min()) * scale, float(shown.max()) * scale
        if low == high:  # one value (or one call): centre it in an odd number of bins, never on a bin's edge
            half = max(abs(low) * 0.5, 1e-3)
            ax.hist(
                shown * scale, bins=11, range=(low - half, low + half), color=LINE_COLOR, alpha=0.75, edgecolor="white"
            )
        else:
            ax.hist(shown * scale, bins=bins, color=LINE_COLOR, alpha=0.75, edgecolor="white", linewidth=0.5)
        ax.axvline(p50 * scale, color=SUCCESS_COLOR, linewidth=2, linestyle="--", label=f"p50 = {format_seconds(p50)}")
        ax.axvline(p95 * scale, color=ERROR_COLOR, linewidth=2, linestyle="--", label=f"p95 = {format_seconds(p95)}")
        if len(clipped):
            # An empty artist carries the note into the legend.
            ax.plot([], [], " ", label=f"{plural(len(clipped), self.noun)} above p99 = {format_seconds(p99)} not shown")
        count = plural(len(values), self.noun)
        style_axes(ax, f"{title} ({count})", f"{self.xlabel} ({unit})", self.noun.capitalize() + "s")
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no "0.2 calls" on a short run
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
        window = call_window(data)
        axis = time_axis([series.timestamps])
        draw_series_over_time(ax, series, window, LINE_COLOR, mean_label(window, len(series)), axis)
        total = float(series.values.sum())
        title = f"{self.title} ({plural(len(series), 'call')}, {plural(total, 'token')} in all)"
        style_axes(ax, title, axis.label, "Tokens per call")
        ax.legend(loc="upper left", fontsize=9, framealpha=0.9)


class EvaluationScoresChart:
    """evaluation_scores.png: the rolling mean of every ``evaluation_score_*`` metric over time."""

    name = "evaluation_scores"

    def available(self, data: Mapping[str, SeriesData]) -> bool:
        return any(name.startswith(EVALUATION_SCORE_PREFIX) for name in data)

    def draw(self, ax: Axes, data: Mapping[str, SeriesData]) -> None:
        names = sorted(name for name in data if name.startswith(EVALUATION_SCORE_PREFIX))
        axis = time_axis(data[n].timestamps for n in names)
        evaluations = max(len(data[n]) for n in names)
        window = max(5, evaluations // 100)
        for index, name in enumerate(names):
            series = data[name]
            keep = thin(len(series), MAX_LINE_POINTS)
            score = rolling_mean(series.values, window)
            label = name[len(EVALUATION_SCORE_PREFIX) :].replace("_", " ")
            few = len(series) <= FEW_POINTS
            color = PALETTE[index % len(PALETTE)]
            ax.plot(axis.x(series.timestamps)[keep], score[keep], color=color, linewidth=2, label=label,
                    marker="o" if few else None, markersize=4)  # fmt: skip
        axis.apply(ax)
        style_axes(ax, f"Evaluation scores over time ({plural(evaluations, 'evaluation')})", axis.label, "Score")
        ax.legend(loc="best", fontsize=9, framealpha=0.9, ncol=1 if len(names) < 5 else 2,
                  title=mean_label(window, evaluations, "evaluation"), title_fontsize=9)  # fmt: skip


def _calls(series: SeriesData) -> SeriesData:
    """The model calls of a call metric, or every point when none is a model call (only wrappers were tracked)."""
    selected = model_calls(series)
    return selected if len(selected) else series


def standard_charts() -> list[Chart]:
    """The standard charts in afterimage's order."""
    return [
        RateChart(),
        DistributionChart("generation_time", "Model call latency", "Latency", over_model_calls=True),
        TokenChart("prompt_token_count", "Prompt tokens per call"),
        TokenChart("completion_token_count", "Completion tokens per call"),
        TokenChart("total_token_count", "Total tokens per call"),
        EvaluationScoresChart(),
        DistributionChart("evaluation_time", "Evaluation time", "Evaluation time", noun="evaluation"),
    ]
