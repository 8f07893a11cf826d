"""Charts that read on any run: time axes, markers, plurals, the latency histogram, per-model charts, the overview.

Every property is read from the figure objects (titles, labels, tick text,
artists), never from pixels.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plot_data import START, simulate

from genmon import GenerationMonitor
from genmon.plots.charts import draw_standard_charts
from genmon.plots.time_axis import time_axis
from genmon.testing import ManualClock

TIME_CHARTS = ("success_error_rate", "prompt_token_count", "completion_token_count", "total_token_count")


def draw(monitor: GenerationMonitor, tmp_path: Path, with_ticks: bool = False) -> dict[str, Any]:
    """The figures visualize_metrics saves, drawn without encoding PNGs (the file tests are in test_charts.py)."""
    assert monitor.sync_store(10)
    figures = draw_standard_charts(monitor.store.snapshot(), (8, 4))
    if with_ticks:
        for figure in figures.values():
            figure.canvas.draw()  # tick labels are made at draw time
    return figures


def ticks(ax: Any) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


def calls(monitor: GenerationMonitor, clock: ManualClock, gaps_s: list[float], latency_s: float = 0.4) -> None:
    for index, gap in enumerate(gaps_s):
        clock.advance(gap)
        prompt = 100 + index
        monitor.track_generation(latency_s, True, model_name="m", operation="chat", prompt_token_count=prompt,
                                 completion_token_count=20, total_token_count=prompt + 20)  # fmt: skip


def test_a_one_point_run_shows_its_point_on_a_seconds_axis_with_singular_titles(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, paris_tz: None
) -> None:
    """One call: a symmetric seconds axis around it (no year-long axis), a marker on every line, '1 call' titles."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    calls(monitor, clock, [0.0])
    figures = draw(monitor, tmp_path, with_ticks=True)
    for name in TIME_CHARTS:
        ax = figures[name].axes[0]
        assert ax.get_xlabel() == "Seconds since 11:00:00 on 2026-01-01 (UTC+01:00)"
        assert ax.get_xlim() == (-1.0, 1.0)
        assert all(re.fullmatch(r"[-−]?\d+(\.\d+)?", text) for text in ticks(ax)), ticks(ax)
        assert all(line.get_marker() == "o" for line in ax.get_lines())
        assert "(1 call" in ax.get_title(loc="left") and "1 calls" not in ax.get_title(loc="left")
    histogram = figures["generation_time"].axes[0]
    assert histogram.get_title(loc="left") == "Model call latency (1 call)"
    low, high = histogram.get_xlim()
    assert low < 400 < high  # the one value sits inside the bins, in milliseconds
    assert histogram.get_xlabel() == "Latency (ms)"
    assert "at 2026-01-01 11:00:00" in figures["overview"]._suptitle.get_text()


def test_a_one_point_run_ticks_at_its_point_and_counts_whole_calls(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """One call: its time axes tick only at 0 (never '-1.00 seconds since' it); the histogram counts whole calls."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    calls(monitor, clock, [0.0])
    figures = draw(monitor, tmp_path, with_ticks=True)
    for name in TIME_CHARTS:
        assert ticks(figures[name].axes[0]) == ["0"], (name, ticks(figures[name].axes[0]))
    counts = figures["generation_time"].axes[0].get_yticks()
    assert len(counts) >= 2 and all(float(c).is_integer() for c in counts), counts  # no "0.2 calls"


def test_a_two_second_run_counts_seconds_from_its_start(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, paris_tz: None
) -> None:
    """Calls over two seconds: ticks are seconds since the first call (0 to 2), never seconds of the minute."""
    clock = ManualClock(START + 26.5)  # the old axis showed 26.5 ... 29.0
    monitor = make_monitor(clock=clock, metric_handlers=[])
    calls(monitor, clock, [0.0] + [0.1] * 20)
    ax = draw(monitor, tmp_path, with_ticks=True)["total_token_count"].axes[0]
    assert ax.get_xlabel() == "Seconds since 11:00:26 on 2026-01-01 (UTC+01:00)"
    values = [float(t.replace("−", "-")) for t in ticks(ax)]
    assert min(values) <= 0.0 and 2.0 <= max(values) <= 2.5
    assert ax.get_lines()[0].get_xdata()[-1] == pytest.approx(2.0)


def test_a_millisecond_burst_counts_milliseconds() -> None:
    """Points within a second get a millisecond axis whose label keeps the start's milliseconds."""
    axis = time_axis([np.array([START + 0.9245, START + 0.9312, START + 0.9871])])
    assert axis.label.startswith("Milliseconds since ") and re.search(r"\d\d:\d\d:\d\d\.924 on", axis.label)
    assert axis.x(np.array([START + 0.9312])) == pytest.approx([6.7], abs=1e-3)


def test_a_two_hour_run_shows_local_clock_time(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, paris_tz: None
) -> None:
    """Calls over two hours: HH:MM ticks of local time, the date and UTC offset in the label."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    calls(monitor, clock, [0.0] + [240.0] * 30)
    ax = draw(monitor, tmp_path, with_ticks=True)["prompt_token_count"].axes[0]
    assert ax.get_xlabel() == "Local time on 2026-01-01 (UTC+01:00)"
    assert ticks(ax) and all(re.fullmatch(r"\d\d:\d\d", t) for t in ticks(ax)), ticks(ax)
    assert "11:00" in ticks(ax) and "13:00" in ticks(ax)


def test_the_latency_histogram_is_over_model_calls_and_clipped_at_the_p99(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """A 2.5 s wrapper stays out; the one slow model call beyond the p99 is counted in the legend, not drawn."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    rng = np.random.default_rng(3)
    for latency in rng.uniform(0.02, 0.12, 199).tolist() + [4.0]:
        clock.advance(0.1)
        monitor.track_generation(latency, True, model_name="m")
    monitor.track_generation(2.5, True, operation="generate", span_type="CHAIN")
    ax = draw(monitor, tmp_path)["generation_time"].axes[0]
    assert ax.get_title(loc="left") == "Model call latency (200 calls)"
    assert ax.get_xlabel() == "Latency (ms)"
    drawn = [patch.get_x() + patch.get_width() for patch in ax.patches]
    assert max(drawn) < 130  # milliseconds: neither the 4 s call nor the 2.5 s wrapper stretches the axis
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("p50 = ") and legend[1].startswith("p95 = ")
    assert re.fullmatch(r"2 calls above p99 = \d+(\.\d+)? ms not shown", legend[2]), legend


def test_every_panel_of_the_overview_smooths_over_the_same_number_of_calls(
    busy: tuple[GenerationMonitor, ManualClock], tmp_path: Path
) -> None:
    """The rate and token panels all say 'mean of last N calls' with one N (failed calls record no tokens)."""
    monitor, clock = busy
    for _ in range(30):  # failed calls without tokens: the token series are shorter than the rate series
        clock.advance(1)
        monitor.track_generation(0.5, False, model_name="big")
    overview = draw(monitor, tmp_path)["overview"]
    labels = {t.get_text() for ax in overview.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    windows = {m.group(1) for label in labels if (m := re.search(r"mean of last (\d+) calls", label))}
    assert len(windows) == 1, labels
    assert overview._suptitle.get_text().startswith("genmon overview: 150 model calls, ")


def test_per_model_charts_break_latency_errors_tokens_and_cost_down_by_model(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """seaborn draws an ECDF per model, an error-rate heatmap of model x operation, token and cost bars per model."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[], prices={"big": (0.01, 0.03), "small": (0.001, 0.002)})
    for i in range(40):
        clock.advance(1)
        model = "big" if i % 4 == 0 else "small"
        try:
            with monitor.track("chat" if i % 2 else "summarise", model_name=model) as span:
                if i % 10 == 5:
                    raise TimeoutError("slow")
                span.set_usage(prompt_tokens=100, completion_tokens=50)
        except TimeoutError:
            pass
    figures = draw(monitor, tmp_path)
    ecdf = figures["latency_by_model"].axes[0]
    assert [t.get_text() for t in ecdf.get_legend().get_texts()] == ["big", "small"]
    assert ecdf.get_ylabel() == "Share of calls at or below" and ecdf.get_xlabel().startswith("Latency (")
    heatmap = figures["error_rate_by_model"].axes[0]
    assert [t.get_text() for t in heatmap.get_yticklabels()] == ["big", "small"]
    assert [t.get_text() for t in heatmap.get_xticklabels()] == ["chat", "summarise"]
    cells = sorted(t.get_text() for t in heatmap.texts if t.get_text())
    assert cells == ["0.0%\n10 calls", "0.0%\n10 calls", "20.0%\n20 calls"]  # big never chats; small chats fail 4 of 20
    tokens = figures["tokens_by_model"].axes[0]
    assert sorted(t.get_text() for t in tokens.texts) == sorted(["1,000", "500", "2,600", "1,300"])
    cost = figures["cost_by_model"].axes[0]
    assert all(t.get_text().startswith("$") for t in cost.texts) and cost.get_xlabel() == "Cost (USD)"


def test_the_latency_ecdf_turns_logarithmic_when_one_slow_call_would_squash_the_rest(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """199 calls of 10-20 ms and one of 9 s (p99/p1 under 2, max/p1 near 900): a log axis, so the bulk is not a wall at 0."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    rng = np.random.default_rng(5)
    for latency in rng.uniform(0.01, 0.02, 199).tolist() + [9.0]:
        clock.advance(0.1)
        monitor.track_generation(latency, True, model_name="m")
    ecdf = draw(monitor, tmp_path)["latency_by_model"].axes[0]
    assert ecdf.get_xscale() == "log" and ecdf.get_xlabel() == "Latency (ms, log scale)"


def test_every_chart_has_a_title_and_axis_labels_with_units(
    busy: tuple[GenerationMonitor, ManualClock], tmp_path: Path
) -> None:
    """Each chart's axes carry a title saying what it shows and labels naming their unit (or the categories)."""
    monitor, _ = busy
    for name, figure in draw(monitor, tmp_path).items():
        for ax in figure.axes:
            if ax.get_label() == "<colorbar>":
                assert ax.get_ylabel() == "Error rate (%)"
                continue
            assert ax.get_title(loc="left"), name
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                units = ("(", "Tokens", "Calls", "Evaluations", "Model", "Operation", "Score", "Share")
                assert label and any(u in label for u in units), (name, label)


@pytest.mark.parametrize("calls_made", [1, 2])
def test_titles_use_correct_plurals(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, calls_made: int
) -> None:
    """'1 call', '2 calls', '1 evaluation': never '1 calls'."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    for _ in range(calls_made):
        clock.advance(1)
        monitor.track_generation(0.3, True, model_name="m", total_token_count=10)
        monitor.track_evaluation(0.1, True, "judge", {"relevance": 0.5})
    titles = [ax.get_title(loc="left") for f in draw(monitor, tmp_path).values() for ax in f.axes]
    text = " ".join(titles)
    assert re.findall(r"\b1 (calls|evaluations|tokens|points)\b", text) == []
    word = "call" if calls_made == 1 else "calls"
    assert f"({calls_made} {word}" in text


def test_simulated_run_draws_without_global_state(busy: tuple[GenerationMonitor, ManualClock], tmp_path: Path) -> None:
    """Drawing the seaborn charts sets no theme: matplotlib's rcParams are unchanged."""
    import matplotlib

    monitor, clock = busy
    simulate(monitor, clock, calls=10, seed=4)
    before = dict(matplotlib.rcParams)
    draw(monitor, tmp_path)
    assert dict(matplotlib.rcParams) == before
