"""The rolling store: window statistics, ordering, eviction and metadata encoding."""

from __future__ import annotations

import numpy as np
import pytest

from genmon.monitor.store.metric_store import MetricStore
from genmon.monitor.store.series import BLOCK_SIZE
from genmon.monitor.store.window import STAT_KEYS


def fill(store: MetricStore, name: str, ts: np.ndarray, values: np.ndarray, meta=None, batch: int = 5000) -> None:
    for i in range(0, len(ts), batch):
        store.append_batch([(name, float(v), float(t), meta) for t, v in zip(ts[i : i + batch], values[i : i + batch])])


def reference(values: np.ndarray) -> dict[str, float]:
    return {
        "count": len(values),
        "mean": values.mean(),
        "min": values.min(),
        "max": values.max(),
        "sum": values.sum(),
        "std": values.std(),
        "p50": np.percentile(values, 50),
        "p95": np.percentile(values, 95),
        "p99": np.percentile(values, 99),
        "last": values[-1],
    }


def assert_stats(stats: dict, values: np.ndarray) -> None:
    ref = reference(values)
    for key, expected in ref.items():
        assert stats[key] == pytest.approx(expected, rel=1e-9, abs=1e-9), key


@pytest.mark.parametrize("n", [1, 7, 1000, BLOCK_SIZE * 5 + 123])
def test_window_stats_match_numpy_for_every_window_start(n: int) -> None:
    """count, mean, min, max, sum, std, exact percentiles and last equal numpy's over any window."""
    rng = np.random.default_rng(n)
    store = MetricStore(max_points_per_metric=None)
    ts = np.arange(n, dtype=float) + 1000.0
    values = rng.lognormal(size=n)
    fill(store, "m", ts, values)
    for start_index in sorted({0, min(1, n - 1), n // 3, n // 2, n - 1}):
        assert_stats(store.window_stats("m", ts[start_index]), values[start_index:])


def test_large_window_percentiles_are_exact_with_duplicates() -> None:
    """The rank selector is exact even when many values repeat (a bracket full of ties)."""
    n = BLOCK_SIZE * 6
    rng = np.random.default_rng(3)
    values = rng.integers(0, 5, size=n).astype(float)
    store = MetricStore(max_points_per_metric=None)
    fill(store, "m", np.arange(n, dtype=float), values)
    assert_stats(store.window_stats("m", 0.0), values)


def test_unknown_and_empty_windows_have_the_same_keys_and_are_falsy() -> None:
    """An unknown metric and an empty window give every key, count 0, and a falsy result."""
    store = MetricStore()
    store.append_batch([("m", 1.0, 10.0, None)])
    for stats in (store.window_stats("nope", 0.0), store.window_stats("m", 11.0)):
        assert set(stats) == set(STAT_KEYS)
        assert stats["count"] == 0
        assert not stats
    assert store.window_stats("m", 0.0)


def test_out_of_order_points_are_merged_in_time_order() -> None:
    """Points arriving late (other threads, past timestamps) are placed by time, across sealed blocks."""
    rng = np.random.default_rng(5)
    n = BLOCK_SIZE * 3
    ts = rng.permutation(n).astype(float)
    values = ts * 2.0
    store = MetricStore(max_points_per_metric=None)
    fill(store, "m", ts, values, batch=777)
    data = store.series("m")
    assert data is not None
    assert np.array_equal(data.timestamps, np.arange(n, dtype=float))
    assert np.array_equal(data.values, np.arange(n, dtype=float) * 2.0)
    assert_stats(store.window_stats("m", 100.0), np.arange(100, n, dtype=float) * 2.0)


def test_point_cap_evicts_oldest_first() -> None:
    """max_points_per_metric keeps the newest points and statistics follow."""
    store = MetricStore(max_points_per_metric=BLOCK_SIZE + 10)
    n = BLOCK_SIZE * 3 + 5
    ts = np.arange(n, dtype=float)
    fill(store, "m", ts, ts.copy())
    assert store.count("m") == BLOCK_SIZE + 10
    data = store.series("m")
    assert data is not None
    assert data.timestamps[0] == n - (BLOCK_SIZE + 10)
    assert_stats(store.window_stats("m", 0.0), ts[n - (BLOCK_SIZE + 10) :])


def test_small_point_cap_trims_the_tail() -> None:
    """A cap smaller than a block trims the growable tail."""
    store = MetricStore(max_points_per_metric=3)
    store.append_batch([("m", float(i), float(i), None) for i in range(10)])
    data = store.series("m")
    assert data is not None and data.values.tolist() == [7.0, 8.0, 9.0]


def test_retention_drops_points_older_than_the_window() -> None:
    """Points older than retention (relative to the append's now) are evicted."""
    store = MetricStore(retention_s=60.0, max_points_per_metric=None)
    store.append_batch([("m", 1.0, 0.0, None), ("m", 2.0, 50.0, None)], now=50.0)
    store.append_batch([("m", 3.0, 100.0, None)], now=100.0)
    data = store.series("m")
    assert data is not None and data.values.tolist() == [2.0, 3.0]


def test_metadata_round_trips_and_repeats_share_a_code() -> None:
    """Each point keeps its metadata; equal dicts are stored once."""
    store = MetricStore()
    points = [("m", float(i), float(i), {"model_name": "a" if i % 2 else "b", "k": [1, 2]}) for i in range(100)]
    points.append(("m", 100.0, 100.0, None))
    store.append_batch(points)
    data = store.series("m")
    assert data is not None
    assert data.metadata() == [p[3] for p in points]
    assert len(data.metadata_table) == 3  # None, a, b
    assert data.metadata_keys() == ["model_name", "k"]
    assert data.metadata_column("model_name").tolist()[:3] == ["b", "a", "b"]


def test_unique_metadata_table_is_compacted_after_eviction() -> None:
    """Per-point unique metadata does not keep evicted dicts alive."""
    store = MetricStore(max_points_per_metric=10)
    for start in range(0, 5000, 100):
        store.append_batch([("m", 1.0, float(i), {"request_id": i}) for i in range(start, start + 100)])
    series = store._series["m"]
    assert len(series.meta_table) <= 1024 + 101
    data = store.series("m")
    assert data is not None
    assert [d["request_id"] for d in data.metadata()] == list(range(4990, 5000))


def test_series_range_is_inclusive_and_snapshot_skips_empty() -> None:
    """series(start, end) keeps start <= t <= end; snapshot omits metrics with no point in range."""
    store = MetricStore()
    store.append_batch([("a", float(i), float(i), None) for i in range(10)] + [("b", 1.0, 100.0, None)])
    data = store.series("a", start=2.0, end=4.0)
    assert data is not None and data.timestamps.tolist() == [2.0, 3.0, 4.0]
    assert [s.name for s in store.snapshot(start=0.0, end=50.0)] == ["a"]
    assert store.series("zzz") is None


def test_invalid_bounds_are_refused() -> None:
    """retention and max_points_per_metric must be positive."""
    with pytest.raises(ValueError, match="retention"):
        MetricStore(retention_s=0)
    with pytest.raises(ValueError, match="max_points_per_metric"):
        MetricStore(max_points_per_metric=0)
