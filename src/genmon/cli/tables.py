"""Terminal tables that fit the console: names never wrapped or cut, columns dropped instead.

A metric name cut to ``generati…`` or wrapped mid-word cannot be read
back or searched for. So the first column always gets its full width and
never wraps; when the table is wider than the console, optional columns
are left out (least useful first) until it fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from genmon.exporters.calls import Headline
from genmon.plots.html_parts import wrapper_text
from genmon.plots.tables import Table
from genmon.plots.units import format_number, format_percent, format_seconds, format_usd, plural


def fitted_table(table: Table, width: int, drop_order: Sequence[str] = (), title: str | None = None) -> Any:
    """A rich Table of ``table`` no wider than ``width``, leaving out columns of ``drop_order`` as needed."""
    columns = list(table.columns)
    for dropped in [None, *drop_order]:
        if dropped is not None and dropped in columns:
            columns.remove(dropped)
        rich_table = _rich(table, columns, title)
        if _width(rich_table) <= width:
            break
    return rich_table


def _rich(table: Table, columns: Sequence[str], title: str | None) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    index = [table.columns.index(c) for c in columns]
    first = max([len(columns[0]), *(len(row[index[0]]) for row in table.rows)])
    out = RichTable(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for position, i in enumerate(index):
        if position == 0:
            out.add_column(table.columns[i], no_wrap=True, min_width=first, overflow="ignore")
        else:
            out.add_column(table.columns[i], justify="right" if table.numeric[i] else "left", no_wrap=True)
    for row in table.rows:
        out.add_row(*(row[i] for i in index))
    return out


def _width(rich_table: Any) -> int:
    """The widest line of the table when nothing limits it."""
    from rich.console import Console

    console = Console(width=10_000, record=False, color_system=None)
    with console.capture() as capture:
        console.print(rich_table)
    return max((len(line) for line in capture.get().splitlines()), default=0)


def headline_lines(figures: Headline) -> list[str]:
    """The first lines a reader sees: model calls (error rate, latency), tokens and cost; then the wrappers apart."""
    model = figures.model
    lines = []
    if model.calls:
        text = f"Model calls: {model.calls:,}"
        if model.error_rate is not None:
            text += f", {format_percent(model.error_rate)} failed ({model.errors:,})"
        text += f"; latency p50 {format_seconds(model.p50)}, p95 {format_seconds(model.p95)}, p99 {format_seconds(model.p99)}"
        lines.append(text)
    totals = []
    if figures.total_tokens is not None:
        totals.append(f"tokens {format_number(figures.total_tokens)}")
    if figures.cost_usd is not None:
        totals.append(f"cost {format_usd(figures.cost_usd)}")
    if totals:
        lines.append("Every call: " + ", ".join(totals))
    wrappers = wrapper_text(figures)
    if wrappers:
        lines.append(f"Wrappers, apart from model calls: {wrappers}")
    if not lines and figures.points:
        lines.append(f"{plural(figures.points, 'point')} in {plural(figures.metrics, 'metric')}")
    return lines
