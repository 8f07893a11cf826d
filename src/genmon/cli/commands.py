"""What ``genmon report``, ``export`` and ``plot`` do with a finished run's files."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genmon.cli.run_files import RunData, RunFileWarning, load_runs
from genmon.cli.run_report import EXPORT_FORMATS, ReportOutputs, build_report, plot_run, summary_table


def _load(run_dirs: Sequence[str]) -> RunData:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunFileWarning)
        run = load_runs(run_dirs)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if not run.store.names():
        raise ValueError(f"no metric recorded in {', '.join(map(str, run_dirs))} (empty run)")
    return run


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(highlight=False)


def print_outputs(console: Any, run: RunData, outputs: ReportOutputs, title: str) -> None:
    """The summary table (resource metrics left to the report) and where every file went."""
    series = [s for s in run.store.snapshot() if not s.name.startswith(("process/", "system/"))]
    console.print(summary_table(series, title=title))
    console.print(f"report: {outputs.report}", soft_wrap=True)
    console.print(f"plots: {outputs.report.parent / 'plots'} ({len(outputs.plots)} charts)", soft_wrap=True)
    for fmt, paths in outputs.exports.items():
        console.print(f"{fmt}: {paths[0]}", soft_wrap=True)


def report_command(run_dirs: Sequence[str], out: str | None) -> int:
    run = _load(run_dirs)
    out_dir = Path(out) if out else (Path(run_dirs[0]) if len(run_dirs) == 1 else Path("genmon-report"))
    outputs = build_report(run, out_dir)
    print_outputs(_console(), run, outputs, title=f"Summary of {', '.join(run_dirs)}")
    return 0


def export_command(run_dir: str, fmt: str, window_s: float | None, out: str | None) -> int:
    from genmon.exporters.base import get_exporter, window_snapshot

    run = _load([run_dir])
    last = max(float(s.timestamps[-1]) for s in run.store.snapshot())
    # A finished run's window ends at its last point, not at the current time.
    series = window_snapshot(run.store, last, window_s)
    ext = EXPORT_FORMATS.get(fmt, fmt)
    path = Path(out) if out else Path(run_dir) / "exports" / f"metrics.{ext}"
    written = get_exporter(fmt).export(series, path)
    print(f"{sum(len(s) for s in series):,} points in {len(series)} metrics written to {written[0]}")
    return 0


def plot_command(run_dir: str, out: str | None) -> int:
    run = _load([run_dir])
    for path in plot_run(run.store.snapshot(), Path(out) if out else Path(run_dir) / "plots"):
        print(path)
    return 0
