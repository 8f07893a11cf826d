"""What the monitor shows: its parts, exports, DataFrames, charts, Prometheus and the notebook views, each a delegation.

``GenerationMonitor`` inherits these; they read the store through its read-only
view (``genmon.monitor.store.view``) and load pandas, pyarrow and matplotlib on
first use, never with ``import genmon``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmon.monitor.engine.queueing import deadline_in

if TYPE_CHECKING:
    from genmon.monitor.alerts.manager import AlertManager
    from genmon.monitor.engine.failures import HandlerErrors
    from genmon.monitor.runtime import Runtime
    from genmon.monitor.store.metric_store import MetricStore
    from genmon.monitor.tracking.span_store import SpanStore
    from genmon.records.spans import SpanRecord


class MonitorViews:
    """The readers of ``GenerationMonitor`` (its parts, exports, frames, charts, Prometheus, reprs)."""

    _rt: Runtime
    _closed: bool
    log_dir: Path
    get_spans: Callable[..., list[SpanRecord]]

    @property
    def store(self) -> MetricStore:
        """The rolling in-memory store (``genmon.monitor.store``)."""
        return self._rt.store

    @property
    def span_store(self) -> SpanStore:
        """The last 100,000 finished spans (what ``get_spans`` reads)."""
        return self._rt.span_store

    @property
    def errors(self) -> HandlerErrors:
        """Failure counts by handler, callback and rule name."""
        return self._rt.errors

    @property
    def alerts(self) -> AlertManager:
        """The rules, their firing state and the alert handlers' lanes."""
        return self._rt.alerts

    def serve_prometheus(self, port: int = 0, addr: str = "127.0.0.1", *, registry: Any = None, **options: Any) -> Any:
        """Serve the metrics at ``http://addr:port/metrics`` until ``close()``; needs ``genmon[prometheus]``."""
        from genmon.monitor import services

        return services.serve_prometheus(self._rt, port, addr, registry, **options)

    def push_prometheus(self, gateway: str, job: str = "genmon", interval: float | None = 15.0, **options: Any) -> Any:
        """Push the metrics to a Pushgateway every ``interval`` seconds and at ``close()``."""
        from genmon.monitor import services

        return services.push_prometheus(self._rt, gateway, job, interval, **options)

    def export_metrics(
        self, output_path: str | Path, format: str = "json", window: timedelta | float | None = None
    ) -> list[Path]:
        """Write the points (all retained, or the trailing window) as json, csv, excel/xlsx or parquet (spans beside); return the files."""
        from genmon.exporters import views as export_views

        return export_views.export_metrics(self._rt.view, output_path, format, window, self.get_spans)

    def save_metrics(self) -> Path:
        """Write every retained point to ``log_dir/metrics_<YYYYmmdd_HHMMSS>.json`` and return its path."""
        from genmon.exporters import views as export_views

        return export_views.save_metrics(self._rt.view)

    def to_dataframe(self, metric: str | None = None, window: timedelta | float | None = None) -> Any:
        """A pandas DataFrame of points: metric, timestamp (local, tz-aware), value, metadata columns."""
        from genmon.exporters import views as export_views

        return export_views.to_dataframe(self._rt.view, metric, window)

    def summary(self, window: timedelta | float | None = None, by: str | list[str] | None = None) -> Any:
        """A DataFrame of count, sum, mean, std, min, p50, p95, p99, max, last per metric (and per ``by`` value)."""
        from genmon.exporters import views as export_views

        return export_views.summary(self._rt.view, window, by)

    def visualize_metrics(
        self, save_dir: str | Path | None = None, figsize: tuple[float, float] = (12, 6), return_figures: bool = False
    ) -> Any:
        """Save the standard charts and overview.png (default ``log_dir/plots``); return the paths (or figures)."""
        from genmon.plots import views as plot_views

        return plot_views.visualize_metrics(self._rt.view, save_dir, figsize, return_figures)

    def plot_metric(
        self, metric_name: str, window: timedelta | float = timedelta(hours=1), rolling_window: int = 10,
        figsize: tuple[float, float] = (12, 8),
    ) -> Any:  # fmt: skip
        """A matplotlib Figure of one metric over the trailing window with a rolling mean."""
        from genmon.plots import views as plot_views

        return plot_views.plot_metric(self._rt.view, metric_name, window, rolling_window, figsize)

    def spans_to_dataframe(self, window: timedelta | float | None = None) -> Any:
        """A pandas DataFrame of the recent spans, one row per tracked call (``genmon.exporters.spans_table``)."""
        self._rt.sync_store(deadline_in(None))
        from genmon.exporters import views as export_views

        return export_views.spans_to_dataframe(self.get_spans(window=window))

    def __repr__(self) -> str:
        from genmon.plots.notebook import monitor_repr

        return monitor_repr(self.log_dir, self._rt.settings.run, self._closed, self._rt.stats())

    def _repr_html_(self) -> str:
        """Jupyter's view: headline figures over model calls, the per-model table, the slowest units of work."""
        from genmon.plots.notebook import monitor_html

        return monitor_html(self._rt.view, self.get_spans, self._rt.settings.run, self._closed)
