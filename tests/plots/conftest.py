"""Fixtures for plot tests: a monitor with a simulated run, in a fixed local zone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from plot_data import START, simulate

from genmon import GenerationMonitor
from genmon.testing import ManualClock


@pytest.fixture
def busy(make_monitor: Callable[..., GenerationMonitor], paris_tz: None) -> tuple[GenerationMonitor, ManualClock]:
    """A monitor (manual clock) holding a simulated run that every standard chart can draw."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    simulate(monitor, clock)
    return monitor, clock
