"""The rows of the report's tables, formatted once for report.html, the terminal and notebooks.

Each table is a list of columns (name, numeric or not) and rows of text
cells, in a stable order: call metrics (over model calls) first in
afterimage's order, the rest by name, then the wrappers' rows
(``metric [SPAN TYPE]``); models by name; operations with model calls
first, then wrappers by span type. Numbers carry their unit (s or ms, tokens, $,
humanised bytes, %); 0/1 metrics and counters show no percentiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genmon.exporters.calls import MODEL_CALL_LABEL, CallStats, by_model, by_operation, metric_rows
from genmon.monitor.store.series_data import SeriesData
from genmon.plots.units import format_number, format_percent, format_seconds, format_usd, metric_kind
from genmon.records.model_calls import CALL_METRIC_ORDER

KEY_METRICS = CALL_METRIC_ORDER  # a call's own metrics lead the tables


@dataclass(frozen=True)
class Table:
    """Column names, which columns hold numbers (right-aligned), rows of text cells, and a note under it."""

    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


def metric_order(names: Sequence[str]) -> list[str]:
    """Call metrics first in afterimage's order, then every other name sorted."""
    key = {name: index for index, name in enumerate(KEY_METRICS)}
    return sorted(names, key=lambda n: (key.get(n, len(KEY_METRICS)), n))


def metrics_table(series_list: Sequence[SeriesData]) -> Table:
    """metric, unit, count, total, mean, p50, p95, p99, max per row of ``summary()`` (percentiles left out for 0/1 metrics and counters).

    A call's metrics are over model calls, as the headline; wrappers' points
    follow as ``"<metric> [<SPAN TYPE>]"`` rows (``genmon.exporters.calls.metric_rows``).
    """
    rows = [row for row in metric_rows(series_list) if len(row.series)]
    plain = {row.label: row.series for row in rows if row.span_type is None}
    ordered = [(name, plain[name]) for name in metric_order(list(plain))]
    ordered += [(row.label, row.series) for row in rows if row.span_type is not None]
    cells = []
    for label, series in ordered:
        values = series.values
        kind = metric_kind(series.name, values)
        if kind.is_share:
            total = f"{int(values.sum()):,}"  # how many were 1: the failures of error_rate
        else:
            total = format_number(float(values.sum()) / kind.scale) if kind.summable else ""
        stats = ["", "", "", ""]
        if kind.percentiles:
            stats = [kind.cell(float(v)) for v in np.percentile(values, [50, 95, 99])] + [
                kind.cell(float(values.max()))
            ]
        mean = "" if kind.is_counter else kind.cell(float(values.mean()))
        cells.append((label, kind.unit, f"{len(values):,}", total, mean, *stats))
    columns = ("metric", "unit", "count", "total", "mean", "p50", "p95", "p99", "max")
    wrappers = any(row.span_type is not None for row in rows)
    note = "A call's metrics are over model calls; rows named metric [SPAN TYPE] are wrapper calls of that type."
    return Table(columns, (False, False, *[True] * 7), tuple(cells), note if wrappers else "")


def _call_cells(row: CallStats) -> tuple[str, ...]:
    return (
        f"{row.calls:,}",
        format_percent(row.error_rate),
        format_seconds(row.p50),
        format_seconds(row.p95),
        format_seconds(row.p99),
        "" if row.total_tokens is None else format_number(row.total_tokens),
        format_usd(row.cost_usd),
    )


_CALL_COLUMNS = ("calls", "error rate", "p50", "p95", "p99", "tokens", "cost")


def models_table(series_list: Sequence[SeriesData]) -> Table:
    """One row per model over model calls; calls that named no model are counted in the note, not as a blank row."""
    rows, unnamed = by_model(series_list)
    note = f"{unnamed:,} model calls named no model and are not in this table." if unnamed else ""
    cells = tuple((row.label, *_call_cells(row)) for row in rows)
    return Table(("model", *_CALL_COLUMNS), (False, *[True] * 7), cells, note)


def operations_table(series_list: Sequence[SeriesData]) -> Table:
    """One row per operation: model calls first, then wrappers by span type (their latency includes their children)."""
    rows = by_operation(series_list)
    cells = tuple((row.label, row.span_type or "", *_call_cells(row)) for row in rows)
    wrappers = any(row.span_type != MODEL_CALL_LABEL for row in rows)
    note = "Wrappers (CHAIN, AGENT, EVALUATOR...) are apart from model calls: their time includes the calls they made."
    return Table(
        ("operation", "span type", *_CALL_COLUMNS), (False, False, *[True] * 7), cells, note if wrappers else ""
    )
