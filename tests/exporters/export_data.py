"""Test data for export tests: awkward metric names and what was recorded (imported by conftest and tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from genmon import GenerationMonitor
from genmon.exporters.columns import json_text, neutralise_text
from genmon.testing import ManualClock

# 2026-03-29 01:00 UTC: Europe/Paris moves from +01:00 to +02:00.
DST_CHANGE = 1_774_746_000.0

# Names that break afterimage: ':' in Excel, '/' in CSV, > 31 characters, collisions once cleaned.
AWKWARD_NAMES = [
    "generation_time",
    "model_usage:gpt-4o",
    "a/b\\c",
    "what?*[x]",
    "what___x_",  # cleans to the same file and sheet name as the one above
    "x" * 40,
    "X" * 40,  # same sheet name as the one above, ignoring case
    "=cmd",
    "Summary",  # the summary sheet's name
]


@dataclass
class Recorded:
    """What a test recorded: points by metric as (value, epoch seconds, metadata or None)."""

    monitor: GenerationMonitor
    clock: ManualClock
    points: dict[str, list[tuple[float, float, dict[str, Any] | None]]] = field(default_factory=dict)

    def record(self, name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        self.monitor.record_metric(name, value, metadata)
        self.points.setdefault(name, []).append((float(value), self.clock(), metadata))


def cell(value: Any) -> Any:
    """What a flat (CSV, Excel) export holds for a recorded metadata value."""
    if isinstance(value, (list, dict)):
        return json_text(value)
    if isinstance(value, str):
        return neutralise_text(value)
    return value
