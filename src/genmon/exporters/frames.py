"""pandas views of a store snapshot: the long table of points and per-metric summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genmon.exporters.calls import metric_rows
from genmon.exporters.columns import column_name, json_text, long_table
from genmon.monitor.store.series_data import SeriesData
from genmon.records.model_calls import call_kind, is_call_metric

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_STATS = ("count", "sum", "mean", "std", "min", "p50", "p95", "p99", "max", "last")
CALL_KIND = "call_kind"  # a derived grouping key: "model" for model calls, else the wrapper's span type


def to_dataframe(series_list: Sequence[SeriesData]) -> pd.DataFrame:
    """One row per point: metric, timestamp (tz-aware, local zone), value, one column per metadata key.

    Example:
        >>> from genmon.monitor.store.metric_store import MetricStore
        >>> store = MetricStore()
        >>> store.append_batch([("latency", 0.5, 1.7e9, {"model_name": "m"})])
        >>> to_dataframe(store.snapshot())[["metric", "value", "model_name"]].values.tolist()
        [['latency', 0.5, 'm']]
    """
    return long_table(series_list, timestamps="instant").table.to_pandas()


def summary(series_list: Sequence[SeriesData], by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """count, sum, mean, std, min, p50, p95, p99, max and last per metric, or per metric and metadata value.

    Without ``by``, a call's metrics (``generation_time``, ``error_rate``,
    tokens, cost, ``model_usage:*``, ``finish_reason:*``) are computed over
    model calls, as the headline is, and each wrapper span type's points
    are rows of their own labelled ``"<metric> [<SPAN TYPE>]"`` after the
    others (``genmon.exporters.calls.metric_rows``): ``summary().loc["error_rate"]``
    is the model calls' error rate, ``"error_rate [CHAIN]"`` the chains'.

    Args:
        series_list: the snapshot to summarise.
        by: a metadata key (``"model_name"``) or several; points without the
            key form their own group, labelled None. ``"call_kind"`` groups
            the points of calls into model calls (``"model"``) and wrappers
            by span type (``genmon.records.model_calls``); other metrics' points are None.

    The index is the metric name, or (metric, *by). ``std`` is the population
    standard deviation and percentiles interpolate linearly, as in
    ``GenerationMonitor.get_metrics``; ``last`` is the latest point's value.
    A key that no point of the snapshot has raises ``ValueError`` naming the
    keys there are (a misspelt key would otherwise give one group of None).
    """
    import pandas as pd

    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"by must be a metadata key or a list of keys, got {key!r:.80}")
    _check_keys(series_list, keys)
    if keys:
        rows = [
            (series.name, *label, *_stats(values)) for series in series_list for label, values in _groups(series, keys)
        ]
    else:
        rows = [(row.label, *_stats(row.series.values)) for row in metric_rows(series_list)]
    index = ["metric", *(column_name(k) for k in keys)]
    frame = pd.DataFrame(rows, columns=[*index, *SUMMARY_STATS])
    frame["count"] = frame["count"].astype("int64")
    return frame.set_index(index)


def _check_keys(series_list: Sequence[SeriesData], keys: list[str]) -> None:
    """ValueError for a ``by`` key that no point of the snapshot has (an empty snapshot has every key)."""
    missing = [k for k in keys if k != CALL_KIND]
    if not missing or not any(len(s) for s in series_list):
        return
    present: dict[str, None] = {}
    for series in series_list:
        present.update(dict.fromkeys(series.metadata_keys()))
    unknown = [k for k in missing if k not in present]
    if unknown:
        known = ", ".join(sorted(present)) or "none"
        raise ValueError(
            f"by={unknown[0]!r}: no point has this metadata key; the keys recorded are: {known} "
            f"(and {CALL_KIND!r}, model calls apart from wrappers)"
        )


def _label_value(series: SeriesData, entry: dict[str, Any] | None, key: str) -> Any:
    if key == CALL_KIND and (entry is None or key not in entry):
        return call_kind((entry or {}).get("span_type")) if is_call_metric(series.name) else None
    return _hashable((entry or {}).get(key))


def _groups(series: SeriesData, keys: list[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """(label, values in time order) per distinct combination of the keys' values, first seen first."""
    label_ids: dict[tuple[Any, ...], int] = {}
    per_code = np.empty(len(series.metadata_table), dtype=np.int64)
    for code, entry in enumerate(series.metadata_table):
        label = tuple(_label_value(series, entry, key) for key in keys)
        per_code[code] = label_ids.setdefault(label, len(label_ids))
    group = per_code[series.codes]
    # Relabel by first appearance so groups come out in the order they were first recorded.
    _, first = np.unique(group, return_index=True)
    order_of_groups = np.unique(group)[np.argsort(first)]
    labels = {v: k for k, v in label_ids.items()}
    order = np.argsort(group, kind="stable")  # stable: each group's points stay in time order
    ordered = group[order]
    out = []
    for gid in order_of_groups.tolist():
        lo, hi = np.searchsorted(ordered, [gid, gid + 1])
        out.append((labels[gid], series.values[order[lo:hi]]))
    return out


def _hashable(value: Any) -> Any:
    return json_text(value) if isinstance(value, (dict, list, tuple)) else value


def _stats(values: np.ndarray) -> tuple[float, ...]:
    p50, p95, p99 = np.percentile(values, [50, 95, 99]).tolist()
    return (
        len(values),
        float(values.sum()),
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        p50,
        p95,
        p99,
        float(values.max()),
        float(values[-1]),
    )
