"""Rebuilding a run's outputs from its files: exports in every format, plots, report.html, a terminal table.

Each step (exports, charts, report) is told to a ``Steps`` as it starts and
ends, so ``genmon demo`` and ``genmon report`` show what they are doing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from genmon.cli.run_files import RunData
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.units import plural

EXPORT_FORMATS = {"json": "json", "csv": "csv", "excel": "xlsx", "parquet": "parquet"}


@dataclass
class ReportOutputs:
    """The files one report run wrote."""

    report: Path
    plots: list[Path]
    exports: dict[str, list[Path]] = field(default_factory=dict)


class Steps(Protocol):
    """Where the steps of building a report are told as they run (``genmon demo`` and ``report`` print them)."""

    def start(self, step: str) -> None: ...

    def done(self, step: str, result: str) -> None: ...


class QuietSteps:
    """Tells nothing."""

    def start(self, step: str) -> None:
        pass

    def done(self, step: str, result: str) -> None:
        pass


class ConsoleSteps:
    """A spinner while a step runs, then one line with what it wrote and how long it took."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self._status: Any = None
        self._started = 0.0

    def start(self, step: str) -> None:
        self._started = time.perf_counter()
        self._status = self.console.status(f"{step}...")
        self._status.start()

    def done(self, step: str, result: str) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        elapsed = time.perf_counter() - self._started
        self.console.print(f"{step}: {result} ({elapsed:.1f} s)", highlight=False)


def export_run(
    series: Sequence[SeriesData],
    out_dir: Path,
    formats: Sequence[str] = tuple(EXPORT_FORMATS),
    spans: Sequence[Mapping[str, Any]] = (),
) -> dict[str, list[Path]]:
    """Write ``out_dir/exports/metrics.<ext>`` in each format (Parquet with the spans beside it)."""
    from genmon.exporters.base import export_with_spans, get_exporter

    written = {}
    for fmt in formats:
        path = out_dir / "exports" / f"metrics.{EXPORT_FORMATS.get(fmt, fmt)}"
        written[fmt] = export_with_spans(get_exporter(fmt), series, path, lambda: spans)
    return written


def plot_run(
    series: Sequence[SeriesData], plots_dir: Path, figsize: tuple[float, float] = (12, 6), dpi: int = 100
) -> list[Path]:
    """Save the standard and per-model charts and the overview in ``plots_dir``."""
    from genmon.plots.charts import save_standard_charts

    paths, _ = save_standard_charts(series, plots_dir, figsize, dpi)
    return paths


def build_report(
    run: RunData, out_dir: Path, formats: Sequence[str] = tuple(EXPORT_FORMATS), steps: Steps | None = None
) -> ReportOutputs:
    """Exports, plots and report.html for a run read from files, all under ``out_dir``; each step told to ``steps``."""
    from genmon.plots.report_html import REPORT_DPI, REPORT_FIGSIZE, report_input, write_report

    steps = steps or QuietSteps()
    series = run.store.snapshot()
    alerts = run.alerts()
    out_dir.mkdir(parents=True, exist_ok=True)
    exports: dict[str, list[Path]] = {}
    plots: list[Path] = []
    if series:
        steps.start("exports")
        exports = export_run(series, out_dir, formats, run.spans)
        steps.done("exports", f"{_export_names(exports)} in {out_dir / 'exports'}")
        steps.start("charts")
        plots = plot_run(series, out_dir / "plots", REPORT_FIGSIZE, REPORT_DPI)
        steps.done("charts", f"{plural(len(plots) - 1, 'chart')} and overview.png in {out_dir / 'plots'}")
    report = report_input(
        series,
        run.spans,
        plots,
        sources=[str(d) for d in run.directories],
        alerts=alerts,
        run=run.run_info,
    )
    steps.start("report")
    path = write_report(report, out_dir / "report.html")
    steps.done("report", str(path))
    return ReportOutputs(path, plots, exports)


def _export_names(exports: Mapping[str, list[Path]]) -> str:
    """``metrics.json, metrics.csv (+12 per-metric files), metrics.xlsx, metrics.parquet, metrics_spans.parquet``."""
    names = []
    for fmt, paths in exports.items():
        if fmt == "csv" and len(paths) > 1:
            names.append(f"{paths[0].name} (+{len(paths) - 1} per-metric files and manifest)")
        elif fmt == "parquet":
            names += [p.name for p in paths]
        else:
            names.append(paths[0].name)
    return ", ".join(names)


SUMMARY_DROP_ORDER = ("max", "p99", "p50", "mean", "unit")


def summary_table(series: Sequence[SeriesData], title: str = "Summary", width: int = 80) -> Any:
    """A rich Table of every metric (unit, count, total, mean, percentiles) that fits ``width`` columns."""
    from genmon.cli.tables import fitted_table
    from genmon.plots.tables import metrics_table

    return fitted_table(metrics_table(series), width, SUMMARY_DROP_ORDER, title)
