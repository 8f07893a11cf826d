"""Rebuilding a run's outputs from its files: exports in every format, plots, report.html, a terminal table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmon.cli.run_files import RunData
from genmon.monitor.store.series_data import SeriesData

if TYPE_CHECKING:
    import pandas as pd

EXPORT_FORMATS = {"json": "json", "csv": "csv", "excel": "xlsx", "parquet": "parquet"}


@dataclass
class ReportOutputs:
    """The files one report run wrote."""

    report: Path
    plots: list[Path]
    exports: dict[str, list[Path]] = field(default_factory=dict)


def export_run(
    series: Sequence[SeriesData], out_dir: Path, formats: Sequence[str] = tuple(EXPORT_FORMATS)
) -> dict[str, list[Path]]:
    """Write ``out_dir/exports/metrics.<ext>`` in each format."""
    from genmon.exporters.base import get_exporter

    written = {}
    for fmt in formats:
        ext = EXPORT_FORMATS.get(fmt, fmt)
        written[fmt] = get_exporter(fmt).export(series, out_dir / "exports" / f"metrics.{ext}")
    return written


def plot_run(series: Sequence[SeriesData], plots_dir: Path, figsize: tuple[float, float] = (12, 6)) -> list[Path]:
    """Save the standard charts and the overview in ``plots_dir``."""
    from genmon.plots.charts import save_standard_charts

    paths, _ = save_standard_charts(series, plots_dir, figsize)
    return paths


def headline(series: Sequence[SeriesData], alerts: Sequence[dict[str, Any]]) -> dict[str, str]:
    """The few numbers a reader wants first: calls, error rate, latency percentiles, tokens, cost, alerts."""
    import numpy as np

    data = {s.name: s for s in series}
    cards: dict[str, str] = {}
    latency = data.get("generation_time")
    if latency is not None and len(latency):
        cards["calls"] = f"{len(latency):,}"
        p50, p95 = np.percentile(latency.values, [50, 95])
        cards["latency p50 / p95"] = f"{p50:.3g} s / {p95:.3g} s"
    errors = data.get("error_rate")
    if errors is not None and len(errors):
        cards["error rate"] = f"{errors.values.mean():.1%}"
    tokens = data.get("total_token_count")
    if tokens is not None and len(tokens):
        cards["total tokens"] = f"{tokens.values.sum():,.0f}"
    cost = data.get("cost_usd")
    if cost is not None and len(cost):
        cards["cost"] = f"${cost.values.sum():,.4f}"
    fired = [a for a in alerts if not (isinstance(a.get("data"), dict) and a["data"].get("state") == "resolved")]
    cards["alerts fired"] = str(len(fired))
    return cards


def _by(series: Sequence[SeriesData], key: str) -> pd.DataFrame | None:
    from genmon.exporters.frames import summary

    keyed = [
        s for s in series if key in s.metadata_keys() and not s.name.startswith(("model_usage:", "finish_reason:"))
    ]
    if not keyed:
        return None
    frame = summary(keyed, by=key)
    return frame


def build_report(run: RunData, out_dir: Path, formats: Sequence[str] = tuple(EXPORT_FORMATS)) -> ReportOutputs:
    """Exports, plots and report.html for a run read from files, all under ``out_dir``."""
    from genmon.exporters.frames import summary
    from genmon.plots.report_html import ReportInput, write_report

    series = run.store.snapshot()
    alerts = run.alerts()
    out_dir.mkdir(parents=True, exist_ok=True)
    exports = export_run(series, out_dir, formats) if series else {}
    plots = plot_run(series, out_dir / "plots") if series else []
    plots.sort(key=lambda p: p.stem != "overview")  # the dashboard first, then each chart
    starts = [float(s.timestamps[0]) for s in series] + [float(s.get("start", 0)) for s in run.spans[:1]]
    ends = [float(s.timestamps[-1]) for s in series]
    report = ReportInput(
        title="genmon run report",
        sources=[str(d) for d in run.directories],
        summary=summary(series),
        by_model=_by(series, "model_name"),
        by_operation=_by(series, "operation"),
        plots=plots,
        alerts=alerts,
        spans=run.spans,
        headline=headline(series, alerts),
        time_range=(min(starts), max(ends)) if starts and ends else None,
    )
    path = write_report(report, out_dir / "report.html")
    return ReportOutputs(path, plots, exports)


def summary_table(series: Sequence[SeriesData], title: str = "Summary") -> Any:
    """A rich Table of count, mean, p50, p95, p99 and max per metric."""
    import numpy as np
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("metric", overflow="fold")
    for column in ("count", "mean", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right")
    for s in sorted(series, key=lambda s: s.name):
        p50, p95, p99 = np.percentile(s.values, [50, 95, 99])
        cells = [f"{len(s):,}"] + [_number(v) for v in (s.values.mean(), p50, p95, p99, s.values.max())]
        table.add_row(s.name, *cells)
    return table


def _number(value: float) -> str:
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
