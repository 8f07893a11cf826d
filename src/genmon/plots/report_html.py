"""One self-contained report.html for a run: cards, the charts once, then the tables.

The page needs nothing beside it (images are data: URIs, the style is
inline) so it can be mailed or attached to a ticket. Its order: the run's
facts and headline cards (over model calls, wrappers apart), every chart
once in a grid, then the tables (per model, per operation, alerts, the
slowest units of work as collapsible trees, every metric). A few lines of
script mark on ``<body>`` how many images decoded (``data-images-ok="n/m"``)
and the page's height (``data-height``), which the browser test reads back.
The charts and tables fit a phone's width: the grid drops to one chart a
row, and a table too wide scrolls on its own.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmon.exporters.calls import headline
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.html_parts import STYLE, alerts_rows, cards_html, esc, run_facts_html, table_html
from genmon.plots.overview import NAME as OVERVIEW_NAME
from genmon.plots.report_spans import slowest_units_html
from genmon.plots.tables import metrics_table, models_table, operations_table
from genmon.plots.units import format_seconds
from genmon.records.timefmt import local_datetime

_PAGE_STYLE = """
body { margin: 1.5rem auto; max-width: 1240px; padding: 0 1rem; }
h1 { margin: 0 0 .2rem; font-size: 1.6rem; }
h2 { margin: 1.6rem 0 .4rem; border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; font-size: 1.2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(480px, 100%), 1fr)); gap: .6rem; }
table { display: block; max-width: 100%; overflow-x: auto; } /* a table wider than a phone scrolls, not the page */
.charts img { width: 100%; border: 1px solid #d0d7de; border-radius: 6px; }
.level-error, .level-critical { color: #cf222e; font-weight: 600; } .level-warning { color: #9a6700; font-weight: 600; }
.level-info { color: #1a7f37; }
details { margin: .15rem 0; } summary { cursor: pointer; }
ul.tree { list-style: none; padding-left: 1.2rem; margin: .15rem 0; } ul.tree li { margin: .1rem 0; }
.failed, .failed > summary { color: #cf222e; } .slow { color: #9a6700; font-size: .85em; }
"""

PAGE_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (img) { return img.complete && img.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-ok", ok + "/" + images.length);
  document.body.setAttribute("data-height", String(document.documentElement.scrollHeight));
});
"""


REPORT_FIGSIZE = (7.2, 3.7)  # two charts a row in report.html, text still legible
REPORT_DPI = 120  # standalone PNGs of 864 x 444 pixels, sharp enough at half a 1,240 px page


@dataclass
class ReportInput:
    """What the report shows; built by ``genmon report`` from run files or from a live monitor's snapshot."""

    title: str
    sources: list[str]
    series: list[SeriesData]
    plots: list[Path]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    run: Mapping[str, Any] | None = None  # run.json: run_name, tags, config
    time_range: tuple[float, float] | None = None


def report_input(
    series: Sequence[SeriesData],
    spans: Sequence[dict[str, Any]],
    plots: Sequence[Path],
    *,
    title: str = "genmon run report",
    sources: Sequence[str],
    alerts: Sequence[dict[str, Any]] = (),
    run: Mapping[str, Any] | None = None,
) -> ReportInput:
    """The report of a run: every chart but the overview, from the first point or span to the last point.

    ``spans`` are dicts in start order (spans.jsonl lines or ``SpanRecord.to_dict()``).
    """
    starts = [float(s.timestamps[0]) for s in series] + [float(s.get("start", 0)) for s in spans[:1]]
    ends = [float(s.timestamps[-1]) for s in series]
    return ReportInput(
        title=title,
        sources=list(sources),
        series=list(series),
        plots=[p for p in plots if p.stem != OVERVIEW_NAME],  # the overview repeats the other charts
        alerts=list(alerts),
        spans=list(spans),
        run=run,
        time_range=(min(starts), max(ends)) if starts and ends else None,
    )


def write_report(report: ReportInput, path: Path, slowest: int = 10) -> Path:
    """Write the report atomically (temporary file, then rename) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(report, slowest), encoding="utf-8")
    tmp.replace(path)
    return path


def render(report: ReportInput, slowest: int = 10) -> str:
    """The report as one HTML document."""
    figures = headline(report.series)
    name = (report.run or {}).get("run_name")
    title = f"{report.title}: {name}" if name else report.title
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}{_PAGE_STYLE}</style>",
        f'<script>{PAGE_SCRIPT}</script></head><body class="genmon">',
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(", ".join(report.sources))}{_range_text(report.time_range)}</p>',
        run_facts_html({k: v for k, v in (report.run or {}).items() if k != "run_name"}),
        cards_html(figures, alerts_rows(report.alerts)),
        "<h2>Charts</h2>",
        _charts(report.plots),
        "<h2>Model calls by model</h2>",
        table_html(models_table(report.series), "No model call named a model."),
        "<h2>Calls by operation</h2>",
        table_html(operations_table(report.series), "No call was tracked."),
        "<h2>Alerts</h2>",
        _alerts(report.alerts),
        "<h2>Slowest units of work</h2>",
        slowest_units_html(report.spans, slowest),
        "<h2>Every metric</h2>",
        table_html(metrics_table(report.series)),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _charts(plots: Sequence[Path]) -> str:
    if not plots:
        return '<p class="muted">No chart: none of the standard metrics was recorded.</p>'
    images = []
    for plot in plots:
        data = base64.b64encode(plot.read_bytes()).decode("ascii")
        images.append(f'<img alt="{esc(plot.stem)}" title="{esc(plot.name)}" src="data:image/png;base64,{data}">')
    return f'<div class="charts">{"".join(images)}</div>'


def _range_text(time_range: tuple[float, float] | None) -> str:
    if time_range is None:
        return ""
    start, end = (local_datetime(t) for t in time_range)
    return f" &middot; {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S %Z} ({format_seconds(time_range[1] - time_range[0])})"


def _alerts(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return '<p class="muted">No alert fired.</p>'
    rows = []
    for record in alerts:
        level = str(record.get("level", ""))
        data = record.get("data") if isinstance(record.get("data"), dict) else {}
        state = data.get("state", "firing") if data else "firing"
        when = local_datetime(record["_ts"]).strftime("%H:%M:%S") if record.get("_ts") else ""
        rows.append(
            f"<tr><td>{html.escape(when)}</td><td>{html.escape(str(record.get('alert', '')))}</td>"
            f'<td class="level-{html.escape(level)}">{html.escape(level)}</td><td>{html.escape(str(state))}</td>'
            f"<td>{html.escape(str(record.get('message', '')))}</td></tr>"
        )
    head = "<tr><th>time</th><th>alert</th><th>level</th><th>state</th><th>message</th></tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
