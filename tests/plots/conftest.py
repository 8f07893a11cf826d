"""Fixtures for plot tests: a monitor with a simulated run, in a fixed local zone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from plot_data import START, simulate

from genmon import GenerationMonitor
from genmon.testing import ManualClock


@pytest.fixture
def paris_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Europe/Paris as the local zone for the test, restored after."""
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def busy(make_monitor: Callable[..., GenerationMonitor], paris_tz: None) -> tuple[GenerationMonitor, ManualClock]:
    """A monitor (manual clock) holding a simulated run that every standard chart can draw."""
    clock = ManualClock(START)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    simulate(monitor, clock)
    return monitor, clock
