"""Window queries and close over a million points, each beside a floor measured in the same run.

Run: python bench/bench_store.py [--quick]

- ``get_metrics`` over 1M points of one metric, with a 5-minute window holding
  all of them and one holding about ten; the floor is a bare
  ``numpy.searchsorted`` plus a slice mean over the same arrays (genmon
  computes all ten statistics with exact percentiles, from sealed blocks'
  summaries and sorted copies, without scanning history).
- ``close()`` with 1M points still queued: the time until it returns, and
  how many points reached the store and metrics.jsonl (all of them); the
  floor is a bare pyarrow write of the same million rows.

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from genmon import GenerationMonitor


def median_ms(fn: Callable[[], Any], calls: int, repeats: int = 7) -> float:
    """Median over ``repeats`` runs of the per-call wall time of ``fn``, in milliseconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls * 1e3)
    return statistics.median(samples)


def bench_get_metrics(points: int) -> list[tuple[str, float, float, float]]:
    import numpy as np

    from genmon.testing import ManualClock

    span = 240.0  # every point inside a 5-minute window
    clock = ManualClock(1_800_000_000.0)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = GenerationMonitor(log_dir=tmp, metric_handlers=[], log_handlers=[], metrics_interval=0, clock=clock)
        try:
            now = clock()
            for start in range(0, points, 10_000):
                monitor.store.append_batch(
                    [("m", float(i % 997), now - span + span * i / points, None) for i in range(start, start + 10_000)]
                )
            values = np.array([float(i % 997) for i in range(points)])
            ts = now - span + span * np.arange(points) / points
            few_window = timedelta(seconds=span * 10 / points)  # about ten points
            floor = median_ms(lambda: values[np.searchsorted(ts, now - 300) :].mean(), 20)
            full = median_ms(lambda: monitor.get_metrics("m", timedelta(minutes=5)), 20)
            few = median_ms(lambda: monitor.get_metrics("m", few_window), 500)
            count_full = monitor.get_metrics("m", timedelta(minutes=5))["count"]
            count_few = monitor.get_metrics("m", few_window)["count"]
        finally:
            monitor.close()
    return [
        (f"get_metrics, 5-minute window holding {count_full:,} of {points:,} points (ms)", full, floor, 2.0),
        (f"get_metrics, window holding {count_few} of {points:,} points (ms)", few, floor, 0.1),
    ]


def bench_close(points: int) -> tuple[float, int, int, float]:
    """(seconds close() took, points in the store, lines in metrics.jsonl, floor seconds)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        monitor = GenerationMonitor(log_dir=tmp, metrics_interval=0, max_queue_size=points + 10, shutdown_timeout=60)
        gate = threading.Event()
        _hold_the_worker(monitor, gate)  # every point below is still queued when close() starts
        record = monitor.record_metric
        for i in range(points):
            record("m", float(i))
        gate.set()
        start = time.perf_counter()
        monitor.close(timeout=60)
        elapsed = time.perf_counter() - start
        stored = monitor.store.count("m")
        with open(f"{tmp}/metrics.jsonl", "rb") as f:
            lines = sum(1 for line in f if b'"metric":"m"' in line)
        table = pa.table(
            {"metric": ["m"] * points, "value": [float(i) for i in range(points)], "timestamp": [0.0] * points}
        )
        start = time.perf_counter()
        pq.write_table(table, f"{tmp}/floor.parquet")
        floor = time.perf_counter() - start
    return elapsed, stored, lines, floor


def _hold_the_worker(monitor: GenerationMonitor, gate: threading.Event) -> None:
    """Occupy the metric worker inside the store until ``gate`` is set."""
    entered = threading.Event()
    store = monitor.store
    original = store.append_batch

    def blocking_append(points: Any, now: Any = None) -> None:
        store.append_batch = original  # type: ignore[method-assign]
        entered.set()
        gate.wait()
        original(points, now)

    store.append_batch = blocking_append  # type: ignore[method-assign]
    monitor.record_metric("warmup", 1.0)
    entered.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 points instead of 1,000,000")
    args = parser.parse_args()
    points = 100_000 if args.quick else 1_000_000
    rows = bench_get_metrics(points)
    elapsed, stored, lines, floor = bench_close(points)
    ok = True
    print(f"{'figure':<62} {'genmon':>10} {'floor':>30}  target")
    for figure, value, floor_ms, target in rows:
        ok &= value <= target
        print(
            f"{figure:<62} {value:>10.3f} {floor_ms:>12.3f} searchsorted+mean  <= {target} {'yes' if value <= target else 'NO'}"
        )
    close_ok = elapsed <= 3.0 and stored == lines == points
    ok &= close_ok
    print(
        f"{f'close() with {points:,} points queued (s)':<62} {elapsed:>10.2f} {floor:>12.2f} bare pyarrow write  "
        f"<= 3 s, all kept: {stored:,} in the store, {lines:,} lines in metrics.jsonl {'yes' if close_ok else 'NO'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
