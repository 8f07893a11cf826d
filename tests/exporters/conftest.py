"""Fixtures for export tests: a DST-observing local zone and a monitor holding awkward data."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from export_data import AWKWARD_NAMES, DST_CHANGE, Recorded

from genmon import GenerationMonitor
from genmon.testing import ManualClock


@pytest.fixture
def recorded(make_monitor: Callable[..., GenerationMonitor], paris_tz: None) -> Recorded:
    """A monitor holding points across a DST change, with awkward names and every metadata type."""
    clock = ManualClock(DST_CHANGE - 1800.25)
    data = Recorded(make_monitor(clock=clock, metric_handlers=[]), clock)
    metadata_kinds: list[dict[str, Any] | None] = [
        {"model_name": "gpt-4o", "operation": "chat", "attempt": 1, "cached": True},
        {"model_name": "gpt-4o-mini", "operation": '=HYPERLINK("x")', "attempt": 2, "cached": False},
        None,
        {"model_name": "-1+2", "tags": ["a", "b"], "score": 0.25},
        {"model_name": "@cmd", "note": "tab\tinside", "route": "\tleading tab"},
    ]
    for i in range(60):
        name = AWKWARD_NAMES[i % len(AWKWARD_NAMES)]
        data.record(name, i * 1.5 - 20.0 + 1e-7 * i, metadata_kinds[i % len(metadata_kinds)])
        data.clock.advance(61.123456)
    data.monitor.sync_store()
    return data
