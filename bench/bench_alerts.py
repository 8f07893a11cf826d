"""check_alerts over 1,000,000 points spread over the seven built-in rule metrics.

Run: python bench/bench_alerts.py [--points N] [--no-afterimage]

Target: check_alerts <= 10 ms with 1M points (afterimage: 520 ms). Printed
beside, from the same run:
- floor: a bare ``numpy.searchsorted`` + slice mean per metric over the same
  data held in one contiguous array per metric (no store, no lock, no rules);
- afterimage's ``_check_alerts`` over the same points, when its source is at
  /tmp/ai/src/afterimage/monitoring.py (loaded as a lone module).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from genmon import GenerationMonitor
from genmon.monitor.alerts.rules import BUILTIN_RULES
from genmon.testing import ManualClock

METRICS = [rule[2] for rule in BUILTIN_RULES]
# Per metric: a value distribution centred so that some rules hold and some do not.
CENTRES = {
    "success_rate": 0.75,  # holds (< 0.8)
    "generation_time": 12.0,
    "error_rate": 0.25,  # holds (> 0.2)
    "prompt_token_count": 900.0,
    "completion_token_count": 5000.0,  # holds (> 4096)
    "total_token_count": 5900.0,
    "conversation_length": 1.5,
}
AFTERIMAGE = Path("/tmp/ai/src/afterimage/monitoring.py")


def median_ms(fn, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def make_data(points: int, now: float, span_s: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    per_metric = points // len(METRICS)
    data = {}
    for name in METRICS:
        ts = np.sort(rng.uniform(now - span_s, now, per_metric))
        values = rng.normal(CENTRES[name], CENTRES[name] * 0.1, per_metric)
        data[name] = (ts, values)
    return data


def fill(monitor: GenerationMonitor, data: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for name, (ts, values) in data.items():
        batch = list(zip([name] * len(ts), values.tolist(), ts.tolist(), [None] * len(ts)))
        for i in range(0, len(batch), 16384):
            monitor.store.append_batch(batch[i : i + 16384])


def bench_genmon(points: int, span_s: float, repeats: int) -> tuple[float, float, float]:
    clock = ManualClock(1_800_000_000.0)
    data = make_data(points, clock(), span_s)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = GenerationMonitor(log_dir=tmp, metrics_interval=0, clock=clock, max_points_per_metric=None)
        fill(monitor, data)
        assert monitor.store.count() == points // len(METRICS) * len(METRICS)
        fired = monitor.check_alerts()
        assert {a.name for a in fired} == {"low_success_rate", "high_error_rate", "high_token_usage:completion"}
        # Steady state: the rules keep holding inside their cooldown, as between reminders.
        check_ms = median_ms(monitor.check_alerts, repeats)
        rules_ms = median_ms(monitor.alerts.run, repeats)
        monitor.close()

    def floor() -> None:
        start = clock() - 300.0
        for ts, values in data.values():
            i = int(np.searchsorted(ts, start))
            float(values[i:].mean())

    floor_ms = median_ms(floor, repeats)
    return check_ms, rules_ms, floor_ms


def bench_afterimage(points: int, span_s: float, repeats: int) -> float | None:
    if not AFTERIMAGE.exists():
        return None
    spec = importlib.util.spec_from_file_location("afterimage_monitoring", AFTERIMAGE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    now = time.time()
    data = make_data(points, now, span_s)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = module.GenerationMonitor(log_dir=Path(tmp), metrics_interval=0)
        for name, (ts, values) in data.items():
            monitor._metrics[name] = [
                {"timestamp": datetime.fromtimestamp(t), "value": v} for t, v in zip(ts.tolist(), values.tolist())
            ]
        # Its windows end at datetime.now(): keep the points inside them while timing.
        assert datetime.now() - datetime.fromtimestamp(now) < timedelta(seconds=60)
        result = median_ms(monitor._check_alerts, max(3, repeats // 10))
        monitor.shutdown()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=51)
    parser.add_argument("--no-afterimage", action="store_true")
    args = parser.parse_args()
    print(
        f"check_alerts, {args.points:,} points over {len(METRICS)} rule metrics, 5-minute window "
        f"(median of {args.repeats})"
    )
    for label, span_s in (("all points in the window", 299.0), ("points over 10 minutes (half in the window)", 600.0)):
        check_ms, rules_ms, floor_ms = bench_genmon(args.points, span_s, args.repeats)
        print(f"  {label}:")
        print(f"    check_alerts()                {check_ms:8.3f} ms   (target <= 10 ms)")
        print(f"    rules only (no sync_store)    {rules_ms:8.3f} ms")
        print(f"    floor: searchsorted + mean    {floor_ms:8.3f} ms")
    if not args.no_afterimage:
        after_ms = bench_afterimage(args.points, 299.0, args.repeats)
        if after_ms is None:
            print(f"  afterimage: source not found at {AFTERIMAGE}")
        else:
            print(f"  afterimage _check_alerts, same points: {after_ms:8.1f} ms")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
