"""What MlflowHandler uploads at close, most useful first, each only while the close budget lasts.

1. ``metrics.parquet``: every retained point (the Parquet export).
2. ``report.html``: ``genmon report``'s page for the live run (cards, the
   charts, per-model and per-operation tables, alerts, the slowest units of
   work, every metric), drawn from the store and the monitor's spans.
3. ``plots/*.png``: the same charts as files (drawn once, for both).
4. ``spans.jsonl``: the monitor's spans (the latest 100,000), one a line, as
   in the run directory.

Before each step the time left of the close is checked: a step that would
start with less than ``FINISH_RESERVE_S`` left is skipped (and named), so the
run can still be marked FINISHED in time. Drawing the charts takes about 3 s
(seaborn's import included); the rest is small next to the uploads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmon.errors import RecordsDropped
from genmon.monitor.store.series_data import SeriesData

FINISH_RESERVE_S = 2.0  # left for marking the run FINISHED
Upload = Callable[[Path, "str | None"], None]  # (local file or directory, artifact directory or None)


@dataclass
class Uploaded:
    """What the close uploaded (artifact paths) and which steps it skipped for lack of time."""

    logged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class RunContents:
    """What the artifacts are made of: the store's points, the spans, the alerts, the run."""

    series: Sequence[SeriesData]
    spans: Sequence[Any]  # SpanRecord
    alerts: Sequence[dict[str, Any]] = ()
    run: dict[str, Any] | None = None  # RunInfo.to_dict(), None for a run without name, tags or config
    source: str = ""  # the run directory, shown under the report's title


def run_contents(context: Any, run: Any) -> RunContents:
    """What a bound handler's monitor holds at close (``HandlerContext``); ``run`` is its ``RunInfo`` or None."""
    return RunContents(
        series=context.stored_snapshot(),
        spans=context.stored_spans(),
        alerts=context.recent_alerts(),
        run=None if run is None else run.to_dict(),
        source=str(context.log_dir),
    )


def log_close_artifacts(contents: RunContents, upload: Upload, time_left: Callable[[], float | None]) -> Uploaded:
    """Write and upload the artifacts in order of use; skip the rest once the budget is nearly spent."""
    from genmon.exporters.parquet_file import ParquetExporter
    from genmon.handlers.spans_file import FileSpanHandler
    from genmon.plots.charts import save_standard_charts
    from genmon.plots.report_html import REPORT_DPI, REPORT_FIGSIZE, report_input, write_report

    done = Uploaded()

    def room(step: str) -> bool:
        left = time_left()
        if left is not None and left < FINISH_RESERVE_S:
            done.skipped.append(step)
            return False
        return True

    with tempfile.TemporaryDirectory(prefix="genmon-mlflow-") as tmp:
        root = Path(tmp)
        if room("metrics.parquet"):
            ParquetExporter().export(contents.series, root / "metrics.parquet")
            upload(root / "metrics.parquet", None)
            done.logged.append("metrics.parquet")
        plots: list[Path] = []
        if room("report.html"):
            plots, _figures = save_standard_charts(contents.series, root / "plots", REPORT_FIGSIZE, REPORT_DPI)
            spans = [span.to_dict() for span in sorted(contents.spans, key=lambda s: s.start)]
            report = report_input(
                contents.series,
                spans,
                plots,
                sources=[contents.source],
                alerts=contents.alerts,
                run=contents.run,
            )
            upload(write_report(report, root / "report.html"), None)
            done.logged.append("report.html")
        else:
            done.skipped.append("plots")  # drawn for the report: nothing to upload
        if plots and room("plots"):
            upload(root / "plots", "plots")
            done.logged += [f"plots/{p.name}" for p in plots]
        if contents.spans and room("spans.jsonl"):
            sink = FileSpanHandler(root)
            try:
                sink.handle_span_batch(list(contents.spans))
            except RecordsDropped:
                pass  # a span that cannot be encoded is left out; the others are written
            finally:
                sink.close()
            upload(sink.path, None)
            done.logged.append("spans.jsonl")
    return done
