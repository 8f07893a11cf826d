"""HTML pieces shared by report.html and the notebook view: style, cards, tables, run facts.

Text cells are left-aligned and numbers right-aligned with tabular
figures; every value is escaped (names and metadata can hold anything).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from genmon.exporters.calls import Headline
from genmon.plots.tables import Table
from genmon.plots.units import format_number, format_percent, format_seconds, format_usd, plural
from genmon.records.types import RunInfo

STYLE = """
.genmon { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; }
.genmon .muted { color: #59636e; }
.genmon .cards { display: flex; flex-wrap: wrap; gap: .5rem; margin: .8rem 0; }
.genmon .card { border: 1px solid #d0d7de; border-radius: 6px; padding: .4rem .75rem; min-width: 6.5rem; }
.genmon .card b { display: block; font-size: 1.2rem; white-space: nowrap; }
.genmon .card small { color: #59636e; font-size: .75rem; }
.genmon table { border-collapse: collapse; margin: .5rem 0; font-variant-numeric: tabular-nums; }
.genmon th, .genmon td { border: 1px solid #d0d7de; padding: .2rem .5rem; text-align: left; vertical-align: top; }
.genmon th { background: #f6f8fa; }
.genmon td.num, .genmon th.num { text-align: right; white-space: nowrap; }
.genmon .tag { display: inline-block; background: #ddf4ff; border-radius: 1em; padding: 0 .6em; margin: 0 .3em .2em 0; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def table_html(table: Table, empty: str = "No data.") -> str:
    """The table with text columns left-aligned and number columns right-aligned; its note under it."""
    if not table.rows:
        return f'<p class="muted">{esc(empty)}</p>'
    css = [' class="num"' if numeric else "" for numeric in table.numeric]
    head = "".join(f"<th{c}>{esc(name)}</th>" for c, name in zip(css, table.columns, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{c}>{esc(v)}</td>" for c, v in zip(css, row, strict=True)) + "</tr>" for row in table.rows
    )
    note = f'<p class="muted">{esc(table.note)}</p>' if table.note else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def cards(figures: Headline, alerts_fired: int | None = None) -> dict[str, tuple[str, str]]:
    """The headline cards, {title: (figure, small print)}: model calls, error rate, latency, tokens, cost, alerts."""
    out: dict[str, tuple[str, str]] = {}
    model = figures.model
    if model.calls:
        out["model calls"] = (f"{model.calls:,}", "LLM, CHAT_MODEL, track_generation")  # the definition, in short
        if model.error_rate is not None:
            out["error rate"] = (format_percent(model.error_rate), f"{plural(model.errors or 0, 'call')} failed")
        latency = " / ".join(format_seconds(v) for v in (model.p50, model.p95, model.p99))
        out["latency p50 / p95 / p99"] = (latency, "model calls")
    elif figures.points:
        out["points"] = (f"{figures.points:,}", plural(figures.metrics, "metric"))
    if figures.total_tokens is not None:
        out["tokens"] = (format_number(figures.total_tokens), "every call")
    if figures.cost_usd is not None:
        out["cost"] = (format_usd(figures.cost_usd), "every call")
    if alerts_fired is not None:
        out["alerts fired"] = (f"{alerts_fired:,}", "")
    return out


def cards_html(figures: Headline, alerts_fired: int | None = None) -> str:
    """The cards, then one line for the wrappers (kept apart from model calls)."""
    items = "".join(
        f'<div class="card">{esc(title)}<b>{esc(figure)}</b><small>{esc(note)}</small></div>'
        for title, (figure, note) in cards(figures, alerts_fired).items()
    )
    return f'<div class="cards">{items}</div>{wrappers_html(figures)}'


def wrapper_text(figures: Headline) -> str:
    """``CHAIN 121 calls (generate, generate_conversation), p95 265 ms; EVALUATOR ...``; empty without wrappers."""
    parts = []
    for group in figures.wrappers:
        names = ", ".join(group.operations[:3]) + (", ..." if len(group.operations) > 3 else "")
        text = f"{group.label} {plural(group.calls, 'call')}" + (f" ({names})" if names else "")
        if group.p95 is not None:
            text += f", p95 {format_seconds(group.p95)}"
        if group.errors:
            text += f", {format_percent(group.error_rate)} failed"
        parts.append(text)
    return "; ".join(parts)


def wrappers_html(figures: Headline) -> str:
    text = wrapper_text(figures)
    if not text:
        return ""
    return f'<p class="muted">Wrappers, counted apart from model calls: {esc(text)}.</p>'


def run_facts_html(run: Mapping[str, Any] | None) -> str:
    """The run's name, tags and config (from run.json or ``monitor.run``); empty when it has none."""
    if not run:
        return ""
    parts = []
    name = run.get("run_name")
    if name:
        parts.append(f"<b>run</b> {esc(name)}")
    tags = run.get("tags") or {}
    if isinstance(tags, Mapping) and tags:
        parts.append(" ".join(f'<span class="tag">{esc(k)}={esc(v)}</span>' for k, v in sorted(tags.items())))
    config = run.get("config") or {}
    if isinstance(config, Mapping) and config:
        values = {str(k): RunInfo.value_text(v) for k, v in sorted(config.items())}
        if len(values) <= 12 and sum(len(k) + len(v) for k, v in values.items()) <= 160:
            # A short config reads best on the same line as the tags.
            parts.append("<b>config</b> " + ", ".join(f"{esc(k)}=<code>{esc(v)}</code>" for k, v in values.items()))
        else:
            rows = "".join(f"<tr><td>{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for k, v in values.items())
            table = f"<details><summary>config ({plural(len(values), 'key')})</summary><table><tbody>{rows}</tbody></table></details>"
            return f"<p>{' &middot; '.join(parts)}</p>{table}" if parts else table
    return f"<p>{' &middot; '.join(parts)}</p>" if parts else ""


def alerts_rows(alerts: Sequence[Mapping[str, Any]]) -> int:
    """How many alerts fired (resolved notices left out)."""
    return sum(1 for a in alerts if not (isinstance(a.get("data"), dict) and a["data"].get("state") == "resolved"))
