"""pandas views of a store snapshot: the long table of points and per-metric summaries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from genmon.exporters.columns import column_name, json_text, long_table
from genmon.monitor.store.series_data import SeriesData

if TYPE_CHECKING:
    import pandas as pd

SUMMARY_STATS = ("count", "mean", "std", "min", "p50", "p95", "p99", "max", "last")


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
    """count, mean, std, min, p50, p95, p99, max and last per metric, or per metric and metadata value.

    Args:
        series_list: the snapshot to summarise.
        by: a metadata key (``"model_name"``) or several; points without the
            key form their own group, labelled None.

    The index is the metric name, or (metric, *by). ``std`` is the population
    standard deviation and percentiles interpolate linearly, as in
    ``GenerationMonitor.get_metrics``; ``last`` is the latest point's value.
    """
    import pandas as pd

    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"by must be a metadata key or a list of keys, got {key!r:.80}")
    rows: list[tuple[Any, ...]] = []
    for series in series_list:
        if not keys:
            rows.append((series.name, *_stats(series.values)))
            continue
        for label, values in _groups(series, keys):
            rows.append((series.name, *label, *_stats(values)))
    index = ["metric", *(column_name(k) for k in keys)]
    frame = pd.DataFrame(rows, columns=[*index, *SUMMARY_STATS])
    frame["count"] = frame["count"].astype("int64")
    return frame.set_index(index)


def _groups(series: SeriesData, keys: list[str]) -> list[tuple[tuple[Any, ...], np.ndarray]]:
    """(label, values in time order) per distinct combination of the keys' values, first seen first."""
    label_ids: dict[tuple[Any, ...], int] = {}
    per_code = np.empty(len(series.metadata_table), dtype=np.int64)
    for code, entry in enumerate(series.metadata_table):
        label = tuple(_hashable((entry or {}).get(key)) for key in keys)
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
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        p50,
        p95,
        p99,
        float(values.max()),
        float(values[-1]),
    )
