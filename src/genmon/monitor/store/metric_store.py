"""The rolling in-memory store: per-metric columnar series, bounded by age and by points per metric.

Each metric is a ``Series`` of sealed blocks plus a tail
(``genmon.monitor.store.series``); window statistics combine whole-block
summaries with the raw points at the window's edges
(``genmon.monitor.store.window``), so their cost depends on the number of
blocks, not of points. Readers get ``SeriesData`` copies and never hold the
lock while they build a table or write a byte.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, KeysView
from operator import itemgetter
from typing import Any

import numpy as np

from genmon.monitor.store.series import Series
from genmon.monitor.store.series_data import SeriesData
from genmon.monitor.store.window import WindowParts, WindowStats, window_parts
from genmon.records.point_groups import GROUP_FIELDS
from genmon.records.types import MetricPoint

_NAME, _VALUE, _TIME, _META = (itemgetter(i) for i in range(4))


def check_store_limits(retention_s: float | None, max_points_per_metric: int | None) -> None:
    """ValueError unless retention is positive seconds or None and the per-metric cap >= 1 or None."""
    if retention_s is not None and retention_s <= 0:
        raise ValueError(f"retention must be positive seconds or None, got {retention_s!r}")
    if max_points_per_metric is not None and max_points_per_metric < 1:
        raise ValueError(f"max_points_per_metric must be >= 1 or None, got {max_points_per_metric!r}")


class MetricStore:
    """Thread-safe rolling store of metric points, bounded by age and by points per metric.

    Args:
        retention_s: drop points older than this many seconds (None keeps them).
        max_points_per_metric: keep at most this many points per metric, oldest evicted first.

    Example:
        >>> store = MetricStore()
        >>> store.append_batch([("latency", 0.5, 1.0, None)])
        >>> store.window_stats("latency", start=0.0)["count"]
        1
    """

    def __init__(self, retention_s: float | None = None, max_points_per_metric: int | None = 1_000_000) -> None:
        check_store_limits(retention_s, max_points_per_metric)
        self.retention_s = retention_s
        self.max_points_per_metric = max_points_per_metric
        self._series: dict[str, Series] = {}
        self._lock = threading.Lock()

    def append_batch(self, points: Iterable[MetricPoint], now: float | None = None) -> KeysView[str]:
        """Append points (name, value, timestamp, metadata) and point groups, apply retention; return the names seen.

        Each metric's points are kept in time order; points of one metric with
        the very same timestamp that came in different groups of a batch may
        be kept in another order than they were recorded.
        """
        grouped: dict[str, tuple[list[float], list[float], list[Any]]] = {}
        points = points if isinstance(points, list) else list(points)
        names = list(map(_NAME, points))  # a point group's names are a tuple
        first = names[0] if names else None
        shapes: dict[Any, list[Any]] = {}  # a group's names -> the groups with those names
        if names.count(first) == len(names) and type(first) is str:
            # One metric (a loop of record_metric calls): the columns are taken in C, no Python loop.
            grouped[first] = (list(map(_TIME, points)), list(map(_VALUE, points)), list(map(_META, points)))
        elif names.count(first) == len(names) and first is not None:
            shapes[first] = points  # point groups of one set of names (a loop of track_generation calls)
        elif (
            len(points) % 2 == 0
            and type(first) is tuple
            and names[0::2].count(first) * 2 == len(names)
            and names[1::2].count(names[1]) * 2 == len(names)
            and type(names[1]) is str
        ):  # a tracked call with a cost, again and again: its group, then its cost point
            shapes[first] = points[0::2]
            for name in first:  # metrics are created in the order they were first recorded
                grouped[name] = ([], [], [])
            odd = points[1::2]
            grouped[names[1]] = (list(map(_TIME, odd)), list(map(_VALUE, odd)), list(map(_META, odd)))
        else:
            for record in points:
                if len(record) == GROUP_FIELDS:
                    same = shapes.get(record[0])
                    if same is None:
                        shapes[record[0]] = [record]
                        for name in record[0]:  # created in the order first recorded
                            if name not in grouped:
                                grouped[name] = ([], [], [])
                    else:
                        same.append(record)
                    continue
                name, value, ts, meta = record
                group = grouped.get(name)
                if group is None:
                    group = grouped[name] = ([], [], [])
                group[0].append(ts)
                group[1].append(value)
                group[2].append(meta)
        for shape, groups in shapes.items():
            # A group's points share its time and metadata: one column of each for all its
            # names, and the values as columns by one transpose in C.
            stamps, metas, values = list(map(_TIME, groups)), list(map(_META, groups)), list(map(_VALUE, groups))
            # A column at a time in C (zip(*values) would make an iterator, tracked, per group).
            for name, column in zip(shape, [list(map(itemgetter(i), values)) for i in range(len(shape))]):
                group = grouped.get(name)
                if group is None or not group[0]:
                    grouped[name] = (stamps, column, metas)  # the lists are shared: never appended to
                else:  # the metric also came as points or in other groups: new lists
                    grouped[name] = (group[0] + stamps, group[1] + column, group[2] + metas)
        cutoff = None
        if self.retention_s is not None and now is not None:
            cutoff = now - self.retention_s
        stamp_arrays: dict[int, np.ndarray] = {}  # a group's metrics share its stamps: one array for all of them
        with self._lock:
            for name, (ts_list, value_list, meta_list) in grouped.items():
                series = self._series.get(name)
                if series is None:
                    series = self._series[name] = Series(name)
                codes = series.encode(meta_list)
                if series.integral and set(map(type, value_list)) != {int}:
                    series.integral = False  # one float and the metric is written as floats from then on
                ts_array = stamp_arrays.get(id(ts_list))
                if ts_array is None:
                    ts_array = stamp_arrays[id(ts_list)] = np.array(ts_list, dtype=np.float64)
                series.append(ts_array, np.array(value_list, dtype=np.float64), codes)
                series.evict(cutoff, self.max_points_per_metric)
        return grouped.keys()

    def names(self) -> list[str]:
        """Names of the metrics that hold points, in first-recorded order."""
        with self._lock:
            return [name for name, s in self._series.items() if s.count]

    def count(self, name: str | None = None) -> int:
        """Points held for one metric, or for all of them."""
        with self._lock:
            if name is not None:
                series = self._series.get(name)
                return series.count if series else 0
            return sum(s.count for s in self._series.values())

    def window_parts(self, name: str, start: float) -> WindowParts:
        """The blocks and edge points of ``name`` stamped at or after ``start``."""
        with self._lock:
            series = self._series.get(name)
            if series is None:
                return WindowParts()
            return window_parts(series, start)

    def window_stats(self, name: str, start: float) -> WindowStats:
        """count, sum, mean, std, min, max, p50, p95, p99 and last of points stamped >= start."""
        return self.window_parts(name, start).stats()

    def series(self, name: str, start: float | None = None, end: float | None = None) -> SeriesData | None:
        """A copy of one metric's points with start <= timestamp <= end, or None if unknown."""
        with self._lock:
            series = self._series.get(name)
            if series is None:
                return None
            ts, values, codes = series.copy_range(start, end)
            table = tuple(series.meta_table)
        return SeriesData(series.name, ts, values, codes, table, series.integral)

    def snapshot(
        self, start: float | None = None, end: float | None = None, names: Iterable[str] | None = None
    ) -> list[SeriesData]:
        """Copies of every metric (or the named ones) restricted to [start, end]."""
        wanted = self.names() if names is None else list(names)
        out = []
        for name in wanted:
            data = self.series(name, start, end)
            if data is not None and len(data):
                out.append(data)
        return out

    def last_timestamp(self) -> float | None:
        """The newest point's time across every metric, or None for an empty store."""
        with self._lock:
            stamps = [s.last_ts() for s in self._series.values() if s.count]
        return max(stamps) if stamps else None

    def nbytes(self) -> int:
        """Bytes held by the numeric buffers (metadata tables not included)."""
        with self._lock:
            return sum(s.nbytes() for s in self._series.values())
