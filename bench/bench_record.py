"""What a generation loop pays per point: sustained throughput until flush() returns, beside a floor.

Run: python bench/bench_record.py [--quick] [--json out.json]

The headline figures are sustained: a loop of record calls, then
``flush()``, total time divided by the work, on a default monitor (store +
metrics.jsonl + genmon.log). The worker threads share the GIL with the
caller, so that is what an application pays. Each is compared in the same
run with a floor sketch: producers put ``(name, value, time.time(), None)``
on a ``queue.SimpleQueue``, one thread drains it in batches of 4,096 and
writes %-formatted JSON lines with one write per batch. Each figure and its
floor run back to back, alternately, two or three times; the best of each is
kept, so a burst of load from other processes moves neither. The caller-side
median of single calls is a second column. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from genmon import GenerationMonitor

BATCH = 4096
TRACK_KWARGS = {
    "model_name": "gpt-4o",
    "finish_reason": "stop",
    "prompt_token_count": 120,
    "completion_token_count": 80,
    "total_token_count": 200,
    "metadata": {"operation": "chat"},
}


# -- the floor sketch -----------------------------------------------------------------------------
def floor_points_per_s(points: int, producers: int, directory: Path) -> float:
    """Producers put 4-tuples on a SimpleQueue; one thread drains in batches and writes JSON lines, one write a batch."""
    sq: queue.SimpleQueue = queue.SimpleQueue()
    done = threading.Event()
    total = points * producers
    out = open(directory / f"floor-{producers}.jsonl", "ab", buffering=0)  # noqa: SIM115 - closed below

    def consume() -> None:
        seen = 0
        while seen < total:
            batch = [sq.get()]
            try:
                while len(batch) < BATCH:
                    batch.append(sq.get_nowait())
            except queue.Empty:
                pass
            seen += len(batch)
            text = "".join(['{"metric":"%s","value":%r,"timestamp":%r}\n' % (n, v, t) for n, v, t, _ in batch])  # noqa: UP031
            out.write(text.encode())  # %-formatting: the floor sketch as the issue wrote it
        done.set()

    def produce() -> None:
        put, clock = sq.put, time.time
        for i in range(points):
            put(("latency", float(i), clock(), None))

    consumer = threading.Thread(target=consume)
    threads = [threading.Thread(target=produce) for _ in range(producers)]
    start = time.perf_counter()
    consumer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.wait()
    elapsed = time.perf_counter() - start
    consumer.join()
    out.close()
    return total / elapsed


# -- genmon, sustained ----------------------------------------------------------------------------
def sustained(kind: str, calls: int, producers: int, directory: Path) -> tuple[float, float]:
    """(calls per second, points per call) for a loop of ``kind`` calls then flush(), on a default monitor."""
    monitor = GenerationMonitor(log_dir=directory / f"{kind}-{producers}", metrics_interval=0)
    try:
        work = _workload(monitor, kind)
        work(200)  # first calls build caches and open the files: not the steady state
        assert monitor.flush(60)
        before = monitor.stats()["processed"]
        threads = [threading.Thread(target=work, args=(calls,)) for _ in range(producers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert monitor.flush(600)
        elapsed = time.perf_counter() - start
        points = monitor.stats()["processed"] - before
    finally:
        monitor.close(60)
    total_calls = calls * producers
    return total_calls / elapsed, points / total_calls


def _workload(monitor: GenerationMonitor, kind: str) -> Callable[[int], None]:
    record = monitor.record_metric

    def plain(n: int) -> None:
        for i in range(n):
            record("latency", float(i))

    def with_metadata(n: int) -> None:
        for i in range(n):
            record("latency", float(i), {"model_name": "gpt-4o", "operation": "chat"})  # a fresh dict each call

    def generation(n: int) -> None:
        track = monitor.track_generation
        for i in range(n):
            track(0.5 + (i % 7) / 100, True, **TRACK_KWARGS)

    def spans(n: int) -> None:
        tracker = monitor.track("chat", model_name="gpt-4o", component="writer")
        for _ in range(n):
            with tracker as span:
                span.set_usage(prompt_tokens=120, completion_tokens=80)

    return {"plain": plain, "meta": with_metadata, "generation": generation, "track": spans}[kind]


# -- caller-side medians ----------------------------------------------------------------------------
def caller_medians(calls: int) -> tuple[float, float]:
    """Median ns of one record_metric call and of a bare function stamping a tuple onto a SimpleQueue."""
    sq: queue.SimpleQueue = queue.SimpleQueue()
    clock = time.time

    def floor_put(name: str, value: float) -> None:
        sq.put((name, value, clock(), None))

    with tempfile.TemporaryDirectory() as tmp:
        monitor = GenerationMonitor(log_dir=tmp, metrics_interval=0, max_queue_size=10 * calls)
        try:
            genmon_ns = statistics.median(_single_calls(monitor.record_metric, calls) for _ in range(5))
        finally:
            monitor.close(60)
    floor_ns = statistics.median(_single_calls(floor_put, calls) for _ in range(5))
    return genmon_ns, floor_ns


def _single_calls(fn: Callable[[str, float], None], calls: int) -> float:
    pc = time.perf_counter_ns
    out = [0] * calls
    for i in range(calls):
        t = pc()
        fn("latency", 0.5)
        out[i] = pc() - t
    timer = [0] * calls
    for i in range(calls):
        t = pc()
        timer[i] = pc() - t
    return statistics.median(out) - statistics.median(timer)


# -- import and memory, each in a fresh process -------------------------------------------------------
IMPORT_PROBE = """
import sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
heavy = [m for m in ("numpy", "pandas", "pyarrow", "matplotlib", "asyncio") if m in sys.modules]
print(elapsed, ",".join(heavy))
"""

MEMORY_PROBE = """
import gc, sys, time, tempfile, psutil
from genmon import GenerationMonitor
n, with_meta = int(sys.argv[1]), sys.argv[2] == "1"
process = psutil.Process()
with tempfile.TemporaryDirectory() as tmp:
    monitor = GenerationMonitor(log_dir=tmp, metrics_interval=0, max_points_per_metric=n)
    for i in range(20_000):  # warm up: caches, the worker's first batches, numpy loaded
        monitor.record_metric("warm", float(i), {"model_name": "gpt-4o", "operation": "chat"} if with_meta else None)
    monitor.flush()
    gc.collect()
    before = process.memory_info().rss
    record = monitor.record_metric
    for i in range(n):
        if with_meta:
            record("latency", float(i), {"model_name": "gpt-4o", "operation": "chat"})
        else:
            record("latency", float(i))
        if i % 100_000 == 0:
            monitor.flush()  # keep the queue from holding the whole run: the store is what is measured
    monitor.flush()
    gc.collect()
    print((process.memory_info().rss - before) / n)
    monitor.close()
"""


def import_seconds(module: str, runs: int = 5) -> tuple[float, str]:
    times, heavy = [], ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", IMPORT_PROBE.format(module=module)], check=False, capture_output=True, text=True
        )
        elapsed, _, heavy = out.stdout.strip().partition(" ")
        times.append(float(elapsed))
    return statistics.median(times), heavy


def rss_bytes_per_point(points: int, with_meta: bool) -> float:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(points), "1" if with_meta else "0"],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip())


# -- afterimage, for comparison ------------------------------------------------------------------------------
AFTERIMAGE_PROBE = """
import sys, tempfile, time
sys.path.insert(0, {bench!r})
from afterimage.monitoring import GenerationMonitor
import bench_record
kind, n = sys.argv[1], int(sys.argv[2])
with tempfile.TemporaryDirectory() as tmp:
    monitor = GenerationMonitor(log_dir=tmp, metrics_interval=3600)
    work = bench_record._workload(monitor, kind)
    work(200)
    start = time.perf_counter()
    work(n)
    print(n / (time.perf_counter() - start))
    monitor.shutdown()
"""


def afterimage_loop_rates(n: int) -> dict[str, float]:
    """afterimage.GenerationMonitor's calls per second, loop only (it has no flush()), each kind in a fresh process."""
    rates = {}
    for kind, calls in (("plain", n), ("meta", n), ("generation", n // 8)):
        out = subprocess.run(
            [sys.executable, "-c", AFTERIMAGE_PROBE.format(bench=str(Path(__file__).parent)), kind, str(calls)],
            check=False,
            capture_output=True,
            text=True,
        )
        rates[kind] = float(out.stdout.strip()) if out.returncode == 0 else float("nan")
    return rates


# -- the report ------------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points (a smoke run; figures are noisier)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument(
        "--afterimage", action="store_true", help="also time afterimage's monitor (loop only) and its import"
    )
    args = parser.parse_args()
    n = 200_000 if args.quick else 1_000_000
    rows: list[tuple[str, str, str, float, float, bool]] = []

    def row(figure: str, value: str, floor: str, ratio: float, target: float, higher_is_better: bool = True) -> None:
        ok = ratio >= target if higher_is_better else ratio <= target
        rows.append((figure, value, floor, ratio, target, ok))

    # On a shared machine other processes take the CPU in bursts: each figure and its floor
    # are measured back to back, `rounds` times alternately, and the best of each is kept
    # (a burst only ever slows a run down).
    rounds = 2 if args.quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        best: dict[str, float] = {}
        points_per_call: dict[str, float] = {}

        def measure(key: str, run: Callable[[], float]) -> None:
            best[key] = max(best.get(key, 0.0), run())

        for r in range(rounds):
            measure("floor1", lambda: floor_points_per_s(n, 1, directory))
            measure("plain1", lambda: sustained("plain", n, 1, directory)[0])
            measure("floor4", lambda: floor_points_per_s(n // 4, 4, directory))
            measure("plain4", lambda: sustained("plain", n // 4, 4, directory)[0])
            measure("floor1", lambda: floor_points_per_s(n, 1, directory))
            measure("meta1", lambda: sustained("meta", n, 1, directory)[0])
            for kind in ("generation", "track"):
                calls_per_s, points_per_call[kind] = sustained(kind, n // 8, 1, directory)
                best[kind] = max(best.get(kind, 0.0), calls_per_s)
                measure("floor1", lambda: floor_points_per_s(n, 1, directory))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    floor1, floor4 = best["floor1"], best["floor4"]
    plain1, plain4, meta1 = best["plain1"], best["plain4"], best["meta1"]
    generation, spans = best["generation"], best["track"]
    gen_points, span_points = points_per_call["generation"], points_per_call["track"]
    row("record_metric, no metadata, 1 producer (points/s)", f"{plain1:,.0f}", f"{floor1:,.0f}", plain1 / floor1, 0.7)
    row("record_metric, no metadata, 4 producers (points/s)", f"{plain4:,.0f}", f"{floor4:,.0f}", plain4 / floor4, 0.7)
    row("record_metric, repeated 2-key metadata (points/s)", f"{meta1:,.0f}", f"{floor1:,.0f}", meta1 / floor1, 0.6)
    row(
        f"track_generation, tokens+model+finish+metadata ({gen_points:.0f} points and a log line each; calls/s)",
        f"{generation:,.0f}",
        f"{floor1:,.0f}",
        generation / floor1,
        1 / 10,
    )
    row(
        f"monitor.track span ({span_points:.0f} points, a span and spans.jsonl each; calls/s)",
        f"{spans:,.0f}",
        f"{floor1:,.0f}",
        spans / floor1,
        1 / 12,
    )
    genmon_import, heavy = import_seconds("genmon")
    numpy_import, _ = import_seconds("numpy")
    row(
        f"import genmon (s; imports {heavy or 'none'} of numpy/pandas/pyarrow/matplotlib/asyncio)",
        f"{genmon_import:.3f}",
        f"{numpy_import:.3f} import numpy",
        genmon_import / numpy_import if not heavy else 99.0,
        0.5,
        higher_is_better=False,
    )
    memory_points = 1_000_000  # always the million: a shorter run measures the warm-up, not the store
    plain_rss = rss_bytes_per_point(memory_points, False)
    meta_rss = rss_bytes_per_point(memory_points, True)
    row(
        f"RSS growth per point over {memory_points:,} points, no metadata (B)",
        f"{plain_rss:.1f}",
        "",
        plain_rss / 40,
        1.0,
        False,
    )
    row(
        f"RSS growth per point over {memory_points:,} points, repeated 2-key metadata (B)",
        f"{meta_rss:.1f}",
        "",
        meta_rss / 60,
        1.0,
        False,
    )
    genmon_ns, floor_ns = caller_medians(100_000)
    row(
        "record_metric caller-side median (ns, second column)",
        f"{genmon_ns:.0f}",
        f"{floor_ns:.0f} bare put",
        genmon_ns / floor_ns,
        2.0,
        False,
    )

    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'genmon':>12}  {'floor (same run)':>22}  {'ratio':>7}  target   ok")
    for figure, value, floor, ratio, target, ok in rows:
        sign = ">=" if figure and ("points/s" in figure or "calls/s" in figure) else "<="
        print(
            f"{figure:<{width}}  {value:>12}  {floor:>22}  {ratio:>7.3f}  {sign}{target:<5.3g}  {'yes' if ok else 'NO'}"
        )
    if args.afterimage:
        rates = afterimage_loop_rates(n // 5)
        ai_import, _ = import_seconds("afterimage.monitoring", runs=3)
        print(
            f"afterimage, loop only (it has no flush): record_metric {rates['plain']:,.0f} points/s, "
            f"with metadata {rates['meta']:,.0f} points/s, track_generation {rates['generation']:,.0f} calls/s; "
            f"import afterimage.monitoring {ai_import:.2f} s"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(load average {load:.2f} on {os.cpu_count()} cores; ratios compare with floors measured in this run)")
    if args.json:
        args.json.write_text(
            json.dumps([dict(zip(("figure", "genmon", "floor", "ratio", "target", "ok"), r)) for r in rows], indent=2)
        )
    gc.collect()
    return 0 if all(r[5] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
