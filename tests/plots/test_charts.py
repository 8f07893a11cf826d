"""visualize_metrics and plot_metric: files, sizes, content, no leaked figures, no global state."""

from __future__ import annotations

import gc
import struct
import threading
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from plot_data import simulate

from genmon import GenerationMonitor
from genmon.plots import base as plot_base
from genmon.plots.overview import overview_size
from genmon.testing import ManualClock

STANDARD = [
    "success_error_rate",
    "generation_time",
    "prompt_token_count",
    "completion_token_count",
    "total_token_count",
    "evaluation_scores",
    "evaluation_time",
]
# The per-model charts the simulated run can draw (it records no cost, so no cost_by_model).
PER_MODEL = ["latency_by_model", "error_rate_by_model", "tokens_by_model"]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (after checking the signature)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_every_standard_chart_and_the_overview_are_saved_in_log_dir_plots(busy: tuple[GenerationMonitor, Any]) -> None:
    """The default directory gets afterimage's file names, the per-model charts and overview.png, each figsize x dpi."""
    monitor, _ = busy
    paths = monitor.visualize_metrics(figsize=(10, 5))
    assert [p.name for p in paths] == [f"{name}.png" for name in [*STANDARD, *PER_MODEL, "overview"]]
    assert all(p.parent == monitor.log_dir / "plots" for p in paths)
    for path in paths[:-1]:
        assert png_size(path) == (1000, 500)
    width, height = overview_size((10, 5), len(STANDARD))
    assert png_size(paths[-1]) == (round(width * 100), round(height * 100))


def test_charts_whose_metrics_are_absent_are_skipped(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """With only generation_time recorded, only its histogram and the overview are drawn."""
    monitor = make_monitor(metric_handlers=[])
    for value in (0.5, 1.0, 1.5, 2.0):
        monitor.record_metric("generation_time", value)
    paths = monitor.visualize_metrics(save_dir=tmp_path / "charts")
    assert sorted(p.name for p in paths) == ["generation_time.png", "overview.png"]
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["generation_time.png", "overview.png"]


def test_nothing_recorded_draws_nothing(make_monitor: Callable[..., GenerationMonitor], tmp_path: Path) -> None:
    """An empty store yields no file and an empty list."""
    monitor = make_monitor(metric_handlers=[])
    assert monitor.visualize_metrics(save_dir=tmp_path / "charts") == []


def test_charts_change_when_the_data_changes(busy: tuple[GenerationMonitor, ManualClock], tmp_path: Path) -> None:
    """Recording more calls changes every chart's pixels."""
    monitor, clock = busy
    before = {p.name: p.read_bytes() for p in monitor.visualize_metrics(save_dir=tmp_path / "a", figsize=(6, 3))}
    simulate(monitor, clock, calls=40, seed=2)
    after = {p.name: p.read_bytes() for p in monitor.visualize_metrics(save_dir=tmp_path / "b", figsize=(6, 3))}
    assert before.keys() == after.keys()
    assert all(before[name] != after[name] for name in before)


def test_return_figures_gives_the_figures_by_name_and_still_saves(
    busy: tuple[GenerationMonitor, Any], tmp_path: Path
) -> None:
    """return_figures=True returns {name: Figure} of the requested size, and the PNGs are written too."""
    from matplotlib.figure import Figure

    monitor, _ = busy
    figures = monitor.visualize_metrics(save_dir=tmp_path / "charts", figsize=(6, 3), return_figures=True)
    assert list(figures) == [*STANDARD, *PER_MODEL, "overview"]
    assert all(isinstance(f, Figure) for f in figures.values())
    assert tuple(figures["generation_time"].get_size_inches()) == (6, 3)
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == sorted(f"{n}.png" for n in figures)


def test_no_figure_is_left_open_or_alive_after_twenty_calls(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After 20 plotting calls pyplot knows no figure, and every figure not returned has been freed."""
    import matplotlib.pyplot as plt

    monitor = make_monitor(metric_handlers=[])
    for value in (0.5, 1.0, 1.5, 2.0):
        monitor.record_metric("generation_time", value)
    made: list[weakref.ref[Any]] = []
    real_new_figure = plot_base.new_figure

    def tracked(*args: Any, **kwargs: Any) -> Any:
        figure = real_new_figure(*args, **kwargs)
        made.append(weakref.ref(figure))
        return figure

    for module in ("genmon.plots.charts", "genmon.plots.overview"):
        monkeypatch.setattr(f"{module}.new_figure", tracked)
    for i in range(10):
        monitor.visualize_metrics(save_dir=tmp_path / "charts", figsize=(4, 3))
        monitor.plot_metric("generation_time", figsize=(4, 3)).savefig(tmp_path / f"metric{i}.png")
    gc.collect()
    assert plt.get_fignums() == []
    assert len(made) == 10 * 3
    assert [ref for ref in made if ref() is not None] == []


def test_plotting_works_from_another_thread_and_leaves_global_state_alone(
    busy: tuple[GenerationMonitor, Any], tmp_path: Path
) -> None:
    """visualize_metrics and plot_metric run in a worker thread; rcParams and the backend are unchanged."""
    monitor, _ = busy
    rc_before = dict(matplotlib.rcParams)
    backend_before = matplotlib.get_backend()
    results: list[Any] = []

    def work() -> None:
        try:
            results.append(monitor.visualize_metrics(save_dir=tmp_path, figsize=(6, 3)))
            results.append(monitor.plot_metric("total_token_count", window=86400))
        except Exception as exc:  # noqa: BLE001 - surfaced below in the main thread
            results.append(exc)

    thread = threading.Thread(target=work, name="test-plotter")
    thread.start()
    thread.join()
    assert not any(isinstance(r, BaseException) for r in results), results
    assert len(results[0]) == len(STANDARD) + len(PER_MODEL) + 1
    assert dict(matplotlib.rcParams) == rc_before
    assert matplotlib.get_backend() == backend_before


def test_plot_metric_draws_points_and_rolling_mean_on_an_elapsed_time_axis(busy: tuple[GenerationMonitor, Any]) -> None:
    """The figure has the requested size; x values are minutes since the first point, whose local time is in the label."""
    monitor, _ = busy
    figure = monitor.plot_metric("generation_time", window=timedelta(hours=2), rolling_window=5, figsize=(9, 6))
    assert tuple(figure.get_size_inches()) == (9, 6)
    ax = figure.axes[0]
    series = monitor.store.series("generation_time")
    assert series is not None
    line = ax.get_lines()[0]
    expected = (series.timestamps - series.timestamps[0]) / 60.0
    assert line.get_xdata() == pytest.approx(expected)
    first_local = datetime.fromtimestamp(float(series.timestamps[0]))  # naive local wall clock: Paris
    assert ax.get_xlabel() == f"Minutes since {first_local:%H:%M:%S} on {first_local:%Y-%m-%d} (UTC+01:00)"
    assert line.get_ydata()[4] == pytest.approx(series.values[:5].mean())
    assert ax.get_title(loc="left") == f"generation_time over time ({len(series)} points)"


def test_plot_metric_refuses_unknown_metrics_and_empty_windows(busy: tuple[GenerationMonitor, ManualClock]) -> None:
    """An unknown metric, a window without points and a bad rolling window raise ValueError."""
    monitor, clock = busy
    with pytest.raises(ValueError, match="not found"):
        monitor.plot_metric("nope")
    clock.advance(timedelta(hours=3))
    with pytest.raises(ValueError, match="No data"):
        monitor.plot_metric("generation_time", window=timedelta(hours=1))
    with pytest.raises(ValueError, match="rolling_window"):
        monitor.plot_metric("generation_time", window=timedelta(days=1), rolling_window=0)
