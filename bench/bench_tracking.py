"""A tracked call's cost: ``@monitor.track(...)`` on a sync function against the bare function.

Run: ``python bench/bench_tracking.py``. Prints the median and mean per call
of both, measured in the same run and interleaved in rounds (so machine noise
hits both alike), and checks the difference against the 5 us budget. Then
the switch turned off: ``@genmon.track`` and ``with genmon.track(...)`` with
no monitor enabled, ``genmon.emit`` and ``monitor.emit`` with no subscriber,
each beside the bare call (the decorator's budget: 0.3 us).

The median is the cost the generator's thread sees on a typical call; the
mean also carries the calls slowed by the worker threads taking the GIL to
drain the queues, so it is printed too. A second part gives the end-to-end
cost (calls, then flush until every file is written) of a tracked call next
to the same figures recorded by hand with ``track_generation``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from genmon import GenerationMonitor

BUDGET_US = 5.0
OFF_BUDGET_US = 0.3  # a decorated function while genmon is not enabled
ROUNDS = 20
CALLS_PER_ROUND = 5_000


def bare(x: int) -> int:
    return x + 1


def per_call_ns(fn: object, calls: int) -> list[int]:
    """Time each call on its own (perf_counter_ns around it); the timer's cost is in both sides."""
    clock = time.perf_counter_ns
    out = []
    f = fn  # local lookup
    for i in range(calls):
        t0 = clock()
        f(i)  # type: ignore[operator]
        out.append(clock() - t0)
    return out


def main() -> int:
    # Realistic sinks: metrics.jsonl, spans.jsonl and the log file are all written.
    with (
        tempfile.TemporaryDirectory() as tmp,
        GenerationMonitor(log_dir=tmp, metrics_interval=0, max_queue_size=2_000_000) as monitor,
    ):
        tracked = monitor.track("bench", span_type="TOOL", model_name="sim-small", component="bench")(bare)
        bare_ns: list[int] = []
        tracked_ns: list[int] = []
        per_call_ns(tracked, CALLS_PER_ROUND)  # warm up both paths
        per_call_ns(bare, CALLS_PER_ROUND)
        wall_start = time.perf_counter()
        for _ in range(ROUNDS):
            bare_ns += per_call_ns(bare, CALLS_PER_ROUND)
            tracked_ns += per_call_ns(tracked, CALLS_PER_ROUND)
        wall = time.perf_counter() - wall_start
        drained_in = time.perf_counter()
        monitor.flush()
        drained_in = time.perf_counter() - drained_in
        spans = monitor.stats()["spans"]["processed"]
    n = len(tracked_ns)
    med_bare, med_tracked = statistics.median(bare_ns) / 1e3, statistics.median(tracked_ns) / 1e3
    mean_bare, mean_tracked = statistics.fmean(bare_ns) / 1e3, statistics.fmean(tracked_ns) / 1e3
    print(
        f"{n:,} calls each, {ROUNDS} interleaved rounds, {wall:.2f} s; {spans:,} spans persisted, final flush {drained_in:.3f} s"
    )
    print(f"  bare function     median {med_bare:6.3f} us   mean {mean_bare:6.3f} us")
    print(f"  @monitor.track    median {med_tracked:6.3f} us   mean {mean_tracked:6.3f} us")
    diff = med_tracked - med_bare
    print(
        f"  tracking costs    median {diff:6.3f} us   mean {mean_tracked - mean_bare:6.3f} us   (budget {BUDGET_US:.1f} us)"
    )
    ok = diff <= BUDGET_US
    print("OK" if ok else "OVER BUDGET")
    ok = switched_off() and ok
    end_to_end()
    return 0 if ok else 1


def switched_off() -> bool:
    """What genmon.track, genmon.emit and monitor.emit cost while nothing is listening, beside the bare call."""
    import genmon

    genmon.disable()  # nothing enabled: the module-level calls must do (next to) nothing
    decorated = genmon.track("bench", span_type="TOOL", model_name="sim-small")(bare)
    shared = genmon.track("bench", span_type="TOOL")

    def with_block(x: int) -> int:
        with shared:
            return bare(x)

    def with_fresh_block(x: int) -> int:
        with genmon.track("bench", span_type="TOOL"):
            return bare(x)

    def module_emit(x: int) -> None:
        genmon.emit("bench.tick", i=x)

    with tempfile.TemporaryDirectory() as tmp, GenerationMonitor(log_dir=tmp, metrics_interval=0) as monitor:

        def monitor_emit(x: int) -> None:
            monitor.emit("bench.tick", i=x)

        candidates = {
            "bare function": bare,
            "@genmon.track, off": decorated,
            "with <shared genmon.track>, off": with_block,
            "with genmon.track(...), off": with_fresh_block,
            "genmon.emit, off": module_emit,
            "monitor.emit, no subscriber": monitor_emit,
        }
        times: dict[str, list[int]] = {label: [] for label in candidates}
        for fn in candidates.values():
            per_call_ns(fn, CALLS_PER_ROUND)  # warm up
        for _ in range(ROUNDS):
            for label, fn in candidates.items():
                times[label] += per_call_ns(fn, CALLS_PER_ROUND)
    base = statistics.median(times["bare function"]) / 1e3
    print(f"switched off ({ROUNDS * CALLS_PER_ROUND:,} calls each, interleaved; median per call, and over the bare call):")
    worst = 0.0
    for label, values in times.items():
        median = statistics.median(values) / 1e3
        if label != "bare function":
            worst = max(worst, median - base) if label == "@genmon.track, off" else worst
        print(f"  {label:<32} {median:6.3f} us   +{median - base:6.3f} us")
    ok = worst <= OFF_BUDGET_US
    print(f"  @genmon.track off costs +{worst:.3f} us (budget {OFF_BUDGET_US} us): {'OK' if ok else 'OVER BUDGET'}")
    return ok


def end_to_end(calls: int = 50_000) -> None:
    """Calls then flush, per call: what a generator pays in total, workers included."""
    print(f"end to end ({calls:,} calls, then flush until metrics.jsonl, spans.jsonl and the log are written):")
    for label in ("track_generation by hand", "@monitor.track"):
        with tempfile.TemporaryDirectory() as tmp, GenerationMonitor(log_dir=tmp, metrics_interval=0) as monitor:
            tracked = monitor.track("bench", span_type="TOOL", model_name="sim-small", component="bench")(bare)
            t0 = time.perf_counter()
            if label == "@monitor.track":
                for i in range(calls):
                    tracked(i)
            else:
                for i in range(calls):
                    started = time.perf_counter()
                    bare(i)
                    monitor.track_generation(
                        time.perf_counter() - started,
                        True,
                        model_name="sim-small",
                        operation="bench",
                        component="bench",
                    )
            monitor.flush()
            total = time.perf_counter() - t0
        print(f"  {label:<26} {total / calls * 1e6:6.2f} us per call")


if __name__ == "__main__":
    sys.exit(main())
