"""One self-contained report.html for a run: plots embedded, summary tables, alerts and the slowest calls.

The page needs nothing beside it (images are data: URIs, the style is
inline) so it can be mailed or attached to a ticket. A few lines of script
mark on ``<body data-images-ok="n/m">`` how many images decoded, which the
browser test reads back.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmon.records.timefmt import local_datetime

if TYPE_CHECKING:
    import pandas as pd

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
.muted { color: #59636e; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card b { display: block; font-size: 1.3rem; }
table { border-collapse: collapse; margin: .6rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: .25rem .55rem; text-align: right; }
th { background: #f6f8fa; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #d0d7de; border-radius: 6px; margin: .5rem 0; }
.level-error { color: #cf222e; font-weight: 600; } .level-warning { color: #9a6700; font-weight: 600; }
.level-info { color: #1a7f37; }
ul.tree { list-style: none; padding-left: 1.2rem; margin: .2rem 0; } ul.tree li { margin: .15rem 0; }
.failed { color: #cf222e; }
"""

_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (img) { return img.complete && img.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images-ok", ok + "/" + images.length);
});
"""


@dataclass
class ReportInput:
    """What the report shows; built by ``genmon report`` from run files or by a live monitor."""

    title: str
    sources: list[str]
    summary: pd.DataFrame
    by_model: pd.DataFrame | None
    by_operation: pd.DataFrame | None
    plots: list[Path]
    alerts: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    headline: dict[str, str] = field(default_factory=dict)
    time_range: tuple[float, float] | None = None


def write_report(report: ReportInput, path: Path, slowest: int = 10) -> Path:
    """Write the report atomically (temporary file, then rename) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render(report, slowest), encoding="utf-8")
    tmp.replace(path)
    return path


def render(report: ReportInput, slowest: int = 10) -> str:
    """The report as one HTML document."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(report.title)}</title><style>{_STYLE}</style>",
        f"<script>{_IMAGE_CHECK}</script></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="muted">{esc(", ".join(report.sources))}{_range_text(report.time_range)}</p>',
    ]
    if report.headline:
        cards = "".join(f'<div class="card">{esc(k)}<b>{esc(v)}</b></div>' for k, v in report.headline.items())
        parts.append(f'<div class="cards">{cards}</div>')
    parts.append("<h2>Charts</h2>")
    if report.plots:
        for plot in report.plots:
            data = base64.b64encode(plot.read_bytes()).decode("ascii")
            parts.append(f'<img alt="{esc(plot.stem)}" src="data:image/png;base64,{data}">')
    else:
        parts.append('<p class="muted">No chart: none of the standard metrics was recorded.</p>')
    parts.append("<h2>Summary</h2>")
    parts.append(_table(report.summary))
    for heading, frame in (("Per model", report.by_model), ("Per operation", report.by_operation)):
        if frame is not None and len(frame):
            parts.append(f"<h2>{heading}</h2>")
            parts.append(_table(frame))
    parts.append("<h2>Alerts</h2>")
    parts.append(_alerts(report.alerts))
    parts.append(f"<h2>Slowest calls</h2>{_span_tree(report.spans, slowest)}")
    parts.append("</body></html>")
    return "\n".join(parts)


def _range_text(time_range: tuple[float, float] | None) -> str:
    if time_range is None:
        return ""
    start, end = (local_datetime(t) for t in time_range)
    return f" &middot; {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S %Z} ({_duration(time_range[1] - time_range[0])})"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    if frame is None or not len(frame):
        return '<p class="muted">No data.</p>'
    flat = frame.reset_index()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in flat.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in flat.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _alerts(alerts: Sequence[dict[str, Any]]) -> str:
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


def _span_tree(spans: Sequence[dict[str, Any]], slowest: int) -> str:
    if not spans:
        return '<p class="muted">No tracked call (spans.jsonl) in this run.</p>'
    children: dict[Any, list[dict[str, Any]]] = {}
    ids = {s.get("call_id") for s in spans}
    roots = []
    for span in spans:
        parent = span.get("parent_call_id")
        if parent is None or parent not in ids:
            roots.append(span)
        else:
            children.setdefault(parent, []).append(span)
    roots.sort(key=lambda s: -(_number(s.get("duration_s")) or 0.0))
    items = "".join(_span_item(root, children, depth=0) for root in roots[:slowest])
    return f'<p class="muted">The {min(slowest, len(roots))} slowest of {len(roots)} top-level calls, with the calls they made.</p><ul class="tree">{items}</ul>'


def _number(value: Any) -> float | None:
    """A span field as a number, or None when it is missing or not one (files can hold anything)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _span_item(span: dict[str, Any], children: dict[Any, list[dict[str, Any]]], depth: int) -> str:
    failed = not span.get("success", True)
    tokens = [n for n in (_number(span.get("prompt_tokens")), _number(span.get("completion_tokens"))) if n is not None]
    details = [f"{(_number(span.get('duration_s')) or 0.0) * 1000:,.1f} ms", str(span.get("span_type", ""))]
    if span.get("model_name"):
        details.append(str(span["model_name"]))
    if tokens:
        details.append(f"{sum(tokens):,.0f} tokens")
    cost = _number(span.get("cost_usd"))
    if cost is not None:
        details.append(f"${cost:.4f}")
    if failed:
        details.append(f"{span.get('exception_type') or 'failed'}: {span.get('exception_message') or ''}")
    label = f"<b>{html.escape(str(span.get('name', '?')))}</b> <span class='muted'>{html.escape(' · '.join(details))}</span>"
    kids = sorted(children.get(span.get("call_id"), []), key=lambda s: _number(s.get("start")) or 0.0)
    inner = (
        ""
        if depth > 8 or not kids
        else '<ul class="tree">' + "".join(_span_item(k, children, depth + 1) for k in kids) + "</ul>"
    )
    css = ' class="failed"' if failed else ""
    return f"<li{css}>{label}{inner}</li>"
