"""plot_metric draws a loop's metric against its steps when its points have steps."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from genmon import GenerationMonitor
from genmon.testing import ManualClock

Make = Callable[..., GenerationMonitor]


def test_points_with_steps_are_drawn_against_their_steps(make_monitor: Make, tmp_path: Path) -> None:
    """The x axis is "Step", the points sit at their steps in step order, and the PNG is a real chart."""
    clock = ManualClock(1_800_000_000.0)
    monitor = make_monitor(clock=clock)
    # Recorded out of step order (a resumed run): drawn in step order all the same.
    for step in (*range(5, 40), *range(5)):
        monitor.record_metric("loss", 1.0 / (step + 1), step=step)
        clock.advance(1)
    monitor.record_metric("loss", 0.5)  # no step: left out, and said so
    monitor.flush()
    figure = monitor.plot_metric("loss", window=3600, rolling_window=5, figsize=(6, 4))
    ax = figure.axes[0]
    assert ax.get_xlabel() == "Step"
    assert "by step (40 points); 1 point without a step not drawn" in ax.get_title(loc="left")
    (line,) = ax.get_lines()
    assert np.array_equal(line.get_xdata(), np.arange(40, dtype=np.float64))
    scatter = ax.collections[0].get_offsets()
    assert np.allclose(scatter[:, 1], 1.0 / (np.arange(40) + 1))
    figure.savefig(tmp_path / "loss.png")
    with Image.open(tmp_path / "loss.png") as image:
        pixels = np.asarray(image.convert("L"))
    assert image.size == (600, 400) and pixels.min() < 100  # something dark was drawn


def test_points_without_steps_keep_the_time_axis(make_monitor: Make) -> None:
    """A metric with no step, or with a label under metadata['step'], is drawn over time as before."""
    clock = ManualClock(1_800_000_000.0)
    monitor = make_monitor(clock=clock)
    for i in range(5):
        monitor.record_metric("latency", float(i), {"step": "warmup"})
        clock.advance(1)
    monitor.flush()
    ax = monitor.plot_metric("latency", window=3600, figsize=(6, 4)).axes[0]
    assert ax.get_xlabel().startswith("Seconds since")
    assert "over time" in ax.get_title(loc="left")


def test_one_step_gets_an_axis_around_it(make_monitor: Make) -> None:
    """A single stepped point sits inside its axis, never on a zero-width one."""
    monitor = make_monitor()
    monitor.record_metric("loss", 0.3, step=7)
    monitor.flush()
    ax = monitor.plot_metric("loss", figsize=(4, 3)).axes[0]
    low, high = ax.get_xlim()
    assert low < 7 < high
