"""Readers take a ``StoreView``: ``FixedView`` reads a finished run's store the way a live monitor's view does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genmon import GenerationMonitor
from genmon.exporters import views as export_views
from genmon.monitor.store.metric_store import MetricStore
from genmon.monitor.store.view import FixedView, StoreView
from genmon.plots import views as plot_views
from genmon.testing import ManualClock

START = 1_767_261_600.0  # 2026-01-01 10:00 UTC


def test_a_fixed_view_is_a_store_view_whose_window_ends_at_the_newest_point(tmp_path: Path) -> None:
    """now() is the newest point's time (or the clock given); snapshot(window_s) keeps the trailing window."""
    store = MetricStore()
    store.append_batch([("latency", float(i), START + i, None) for i in range(11)])
    view = FixedView(store, tmp_path)
    assert isinstance(view, StoreView)
    assert view.log_dir == tmp_path
    assert view.now() == START + 10
    [recent] = view.snapshot(5.0)
    assert list(recent.values) == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert [len(s) for s in view.snapshot()] == [11]
    assert view.snapshot(0) == []
    assert view.has_metric("latency") and not view.has_metric("other")
    later = FixedView(store, tmp_path, clock=lambda: START + 100)
    assert later.snapshot(89.5) == []
    assert list(later.snapshot(95.5)[0].values) == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert FixedView(MetricStore(), tmp_path).now() == 0.0


def drawn(figure: Any) -> list[int]:
    """How many points each scatter and line of a figure's first Axes draws."""
    ax = figure.axes[0]
    return [len(c.get_offsets()) for c in ax.collections] + [len(line.get_xdata()) for line in ax.lines]


def finished_run(make_monitor: Callable[..., GenerationMonitor]) -> tuple[GenerationMonitor, dict[str, object]]:
    """A closed monitor's run, and what the monitor itself exported and plotted before it closed."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    for i in range(40):
        clock.advance(2.5)
        tokens = 100 + 7 * i
        monitor.track_generation(0.5 + (i % 5) / 10, i % 7 != 0, model_name=["big", "small"][i % 2],
                                 prompt_token_count=tokens, completion_token_count=tokens // 2,
                                 total_token_count=tokens + tokens // 2)  # fmt: skip
    live_dir = monitor.log_dir / "live"
    live = {
        "frame": monitor.to_dataframe(),
        "summary": monitor.summary(),
        "json": json.loads(monitor.export_metrics(live_dir / "points.json", "json")[0].read_bytes()),
        "charts": sorted(path.name for path in monitor.visualize_metrics(live_dir / "plots")),  # type: ignore[union-attr]
        "figure": monitor.plot_metric("generation_time", window=60),
    }
    assert monitor.close()
    return monitor, live


def test_exporters_read_a_finished_runs_store_through_a_fixed_view(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """exporters.views over FixedView(monitor.store) after close gives what the monitor gave while open."""
    monitor, live = finished_run(make_monitor)
    view = FixedView(monitor.store, monitor.log_dir)
    assert export_views.to_dataframe(view).equals(live["frame"])
    assert export_views.summary(view).equals(live["summary"])
    [path, *_] = export_views.export_metrics(view, monitor.log_dir / "fixed" / "points.json", "json")
    assert json.loads(path.read_bytes()) == live["json"]
    saved = export_views.save_metrics(view)
    assert saved.parent == monitor.log_dir and json.loads(saved.read_bytes()) == live["json"]


def test_plots_read_a_finished_runs_store_through_a_fixed_view(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """plots.views over FixedView(monitor.store) after close draws the charts the open monitor drew."""
    monitor, live = finished_run(make_monitor)
    view = FixedView(monitor.store, monitor.log_dir)
    paths = plot_views.visualize_metrics(view)
    assert isinstance(paths, list)
    assert sorted(path.name for path in paths) == live["charts"]
    assert all(path.parent == monitor.log_dir / "plots" and path.stat().st_size > 0 for path in paths)
    figure = plot_views.plot_metric(view, "generation_time", window=60)
    assert drawn(figure) == drawn(live["figure"])
    assert drawn(figure)[0] == 25  # 40 calls 2.5 s apart; the trailing 60 s [40 s, 100 s] holds both ends
    with pytest.raises(ValueError, match="not found"):
        plot_views.plot_metric(view, "no_such_metric")
