"""What ``GenerationMonitor``'s export and DataFrame methods do, over a read-only ``StoreView``.

The view's snapshot first waits (at most ``shutdown_timeout``) until the
points recorded before the call are in the store, then copies them, so the
store's lock is released before any DataFrame is built or byte written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmon.exporters.base import export_with_spans, get_exporter
from genmon.monitor.store.series_data import SeriesData
from genmon.monitor.store.view import StoreView
from genmon.records.validation import to_seconds

if TYPE_CHECKING:
    import pandas as pd


def reader_snapshot(
    view: StoreView, window: timedelta | float | None, names: Sequence[str] | None = None
) -> list[SeriesData]:
    """The points of the trailing ``window`` (None: all retained; 0: none), once recorded points are stored."""
    return view.snapshot(None if window is None else to_seconds(window), names)


def export_metrics(
    view: StoreView,
    output_path: str | Path,
    format: str = "json",
    window: timedelta | float | None = None,
    spans: Callable[..., Sequence[Any]] | None = None,
) -> list[Path]:
    """Write the points to ``output_path`` in ``format``; return the files written, the main one first.

    ``spans(window=...)`` gives the spans of the window; Parquet writes them beside the points.
    """
    exporter = get_exporter(format)  # an unknown format fails before anything is read or written
    series = reader_snapshot(view, window)
    window_spans = None if spans is None else (lambda: spans(window=window))
    return export_with_spans(exporter, series, Path(output_path), window_spans)


def save_metrics(view: StoreView) -> Path:
    """afterimage's ``save_metrics``: every retained point to ``log_dir/metrics_<YYYYmmdd_HHMMSS>.json``."""
    from genmon.records.timefmt import local_datetime

    path = view.log_dir / f"metrics_{local_datetime(view.now()):%Y%m%d_%H%M%S}.json"
    return export_metrics(view, path, "json")[0]


def to_dataframe(view: StoreView, metric: str | None = None, window: timedelta | float | None = None) -> pd.DataFrame:
    """Points as a long DataFrame: metric, timestamp (tz-aware, local), value, metadata columns."""
    from genmon.exporters.frames import to_dataframe as frame

    return frame(reader_snapshot(view, window, None if metric is None else [metric]))


def summary(view: StoreView, window: timedelta | float | None = None, by: Any = None) -> pd.DataFrame:
    """count, sum, mean, std, min, p50, p95, p99, max and last per metric (and per ``by`` metadata value)."""
    from genmon.exporters.frames import summary as frame

    return frame(reader_snapshot(view, window), by)


def spans_to_dataframe(spans: Sequence[Any]) -> pd.DataFrame:
    """Spans as a DataFrame, one row per tracked call (columns in ``genmon.exporters.spans_table``)."""
    from genmon.exporters.spans_table import spans_dataframe

    return spans_dataframe(spans)
