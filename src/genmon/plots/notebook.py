"""The monitor in a notebook: ``_repr_html_`` (headline cards and tables) and a one-line ``repr``.

Both read a ``StoreView``, the spans and the run's facts, never the monitor
itself. The HTML view is compact: the cards over model calls (wrappers on
one line apart), the per-model table, the five slowest units of work
(collapsed), and every metric in a collapsed table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from genmon.exporters.calls import headline
from genmon.monitor.store.view import StoreView
from genmon.plots.html_parts import STYLE, cards_html, esc, run_facts_html, table_html
from genmon.plots.report_spans import slowest_units_html
from genmon.plots.tables import metrics_table, models_table
from genmon.plots.units import plural
from genmon.records.types import RunInfo

_NOTEBOOK_STYLE = (
    ".genmon h4 { margin: .8rem 0 .2rem; } .genmon details { margin: .3rem 0; } .genmon ul.tree { list-style: none; }"
)


def monitor_repr(log_dir: Path, run: RunInfo, closed: bool, stats: Mapping[str, Any]) -> str:
    """``<GenerationMonitor 'nightly' open, log_dir='runs/today': 1,204 points recorded, 1,204 stored, 0 dropped>``."""
    name = f" {run.run_name!r}" if run.run_name else ""
    dropped = stats.get("dropped") or {}
    lost = sum(dropped.values()) if isinstance(dropped, Mapping) else 0
    state = "closed" if closed else "open"
    counts = (
        f"{plural(int(stats.get('recorded', 0)), 'point')} recorded, {int(stats.get('stored_points', 0)):,} stored, "
        f"{lost:,} dropped"
    )
    return f"<GenerationMonitor{name} {state}, log_dir={str(log_dir)!r}: {counts}>"


def monitor_html(view: StoreView, spans: Callable[[], Sequence[Any]], run: RunInfo, closed: bool) -> str:
    """The notebook view of a monitor's run so far; ``spans()`` is read after the view's snapshot synced the store."""
    series = view.snapshot()
    figures = headline(series)
    span_dicts = [s.to_dict() if hasattr(s, "to_dict") else s for s in spans()]
    title = f"GenerationMonitor {esc(run.run_name)}" if run.run_name else "GenerationMonitor"
    state = "closed" if closed else "open"
    facts = run_facts_html({"tags": run.tags, "config": run.config})
    metrics = metrics_table(series)
    parts = [
        f"<style>{STYLE}{_NOTEBOOK_STYLE}</style>",
        '<div class="genmon">',
        (
            f'<b>{title}</b> <span class="muted">{state} &middot; {esc(view.log_dir)} &middot; '
            f"{plural(figures.points, 'point')} in {plural(figures.metrics, 'metric')}, "
            f"{plural(len(span_dicts), 'span')}</span>"
        ),
        facts,
        cards_html(figures) if figures.points else '<p class="muted">Nothing recorded yet.</p>',
    ]
    models = models_table(series)
    if models.rows:
        parts += ["<h4>Model calls by model</h4>", table_html(models)]
    if span_dicts:
        parts += ["<details><summary>Slowest units of work</summary>", slowest_units_html(span_dicts, 5), "</details>"]
    if metrics.rows:
        parts += [f"<details><summary>Every metric ({len(metrics.rows)})</summary>", table_html(metrics), "</details>"]
    parts.append("</div>")
    return "\n".join(p for p in parts if p)
