"""What readers may see of a monitor: a small read-only view of its store.

Exporters, plots, reports and the sinks that upload them take a
``StoreView``, never ``GenerationMonitor`` itself, so they cannot reach
into the monitor's queues or workers, and a test can hand them a view of a
plain ``MetricStore`` (``FixedView``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from genmon.monitor.store.metric_store import MetricStore
from genmon.monitor.store.series_data import SeriesData


@runtime_checkable
class StoreView(Protocol):
    """The read side of a monitor: its clock, its run directory and copies of its points."""

    @property
    def log_dir(self) -> Path:
        """The run directory (where ``save_metrics`` and the default plots go)."""
        ...

    def now(self) -> float:
        """The monitor's clock, in epoch seconds: trailing windows end here."""
        ...

    def snapshot(self, window_s: float | None = None, names: Sequence[str] | None = None) -> list[SeriesData]:
        """Copies of the points of the trailing ``window_s`` (None: all retained; 0: none).

        Points recorded before the call are included: a live monitor first
        waits (bounded) until its metric worker has stored them.
        """
        ...

    def has_metric(self, name: str) -> bool:
        """True when the store has ever held a point of ``name``."""
        ...


class FixedView:
    """A ``StoreView`` over a ``MetricStore`` that nothing else writes to (a finished run, a test).

    Args:
        store: the store read.
        log_dir: the run directory it stands for.
        clock: the time trailing windows end at (default: the newest point's time).
    """

    def __init__(self, store: MetricStore, log_dir: Path, clock: Callable[[], float] | None = None) -> None:
        self.store = store
        self._log_dir = Path(log_dir)
        self._clock = clock

    @property
    def log_dir(self) -> Path:
        return self._log_dir

    def now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return self.store.last_timestamp() or 0.0

    def snapshot(self, window_s: float | None = None, names: Sequence[str] | None = None) -> list[SeriesData]:
        return window_snapshot(self.store, self.now(), window_s, names)

    def has_metric(self, name: str) -> bool:
        return self.store.series(name) is not None


def window_snapshot(
    store: MetricStore, now: float, window_s: float | None, names: Sequence[str] | None = None
) -> list[SeriesData]:
    """Copies of the points stamped in the trailing window (all of them for None; none for 0)."""
    if window_s is not None and window_s <= 0:
        return []
    start = None if window_s is None else now - window_s
    return store.snapshot(start=start, names=names)
