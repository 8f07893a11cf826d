"""What ``genmon report``, ``export`` and ``plot`` do with a finished run's files."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from genmon.cli.run_files import RunData, RunFileWarning, load_runs
from genmon.cli.run_report import EXPORT_FORMATS, ConsoleSteps, ReportOutputs, build_report, plot_run, summary_table


def _load(run_dirs: Sequence[str], merge_runs: bool = False) -> RunData:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RunFileWarning)
        run = load_runs(run_dirs, merge_runs=merge_runs)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    if not run.store.names():
        raise ValueError(f"no metric recorded in {', '.join(map(str, run_dirs))} (empty run)")
    return run


def _console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(highlight=False)


def print_outputs(console: Any, run: RunData, outputs: ReportOutputs, title: str) -> None:
    """The headline over model calls, the summary table (resource metrics left to the report), the report's path."""
    from genmon.cli.tables import headline_lines
    from genmon.exporters.calls import headline

    snapshot = run.store.snapshot()
    console.print()
    for line in headline_lines(headline(snapshot)):
        console.print(line, highlight=False)
    series = [s for s in snapshot if not s.name.startswith(("process/", "system/"))]
    console.print(summary_table(series, title=title, width=console.width))
    console.print(f"open {outputs.report}", soft_wrap=True)


def report_command(run_dirs: Sequence[str], out: str | None, merge_runs: bool = False) -> int:
    run = _load(run_dirs, merge_runs)
    out_dir = Path(out) if out else (Path(run_dirs[0]) if len(run_dirs) == 1 else Path("genmon-report"))
    console = _console()
    outputs = build_report(run, out_dir, steps=ConsoleSteps(console))
    print_outputs(console, run, outputs, title=f"Every metric of {', '.join(run_dirs)}")
    return 0


def export_command(run_dir: str, fmt: str, window_s: float | None, out: str | None, merge_runs: bool = False) -> int:
    from genmon.exporters.base import export_with_spans, get_exporter
    from genmon.monitor.store.view import FixedView

    run = _load([run_dir], merge_runs)
    view = FixedView(run.store, Path(run_dir))  # a finished run's window ends at its last point, not now
    series = view.snapshot(window_s)
    start = -math.inf if window_s is None else view.now() - window_s
    ext = EXPORT_FORMATS.get(fmt, fmt)
    path = Path(out) if out else Path(run_dir) / "exports" / f"metrics.{ext}"
    window_spans = lambda: [s for s in run.spans if s.get("start", 0.0) >= start]
    written = export_with_spans(get_exporter(fmt), series, path, window_spans)
    beside = f" (spans: {written[1]})" if fmt == "parquet" and len(written) > 1 else ""
    print(f"{sum(len(s) for s in series):,} points in {len(series)} metrics written to {written[0]}{beside}")
    return 0


def plot_command(run_dir: str, out: str | None, merge_runs: bool = False) -> int:
    run = _load([run_dir], merge_runs)
    for path in plot_run(run.store.snapshot(), Path(out) if out else Path(run_dir) / "plots"):
        print(path)
    return 0
