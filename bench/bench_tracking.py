"""A tracked call's cost, and what every switch costs while it is off, each beside its floor.

Run: ``python bench/bench_tracking.py [--quick] [--off-only]``. Exits 1 when a
figure is over its budget (the line says ``OVER BUDGET``).

First ``@monitor.track(...)`` on a sync function against the bare function,
measured in the same run and interleaved in rounds (so machine noise hits
both alike), checked against the 5 us budget. Then the switches of issue 14
turned off (``OFF_PATHS``), each against its floor in the same interleaved
rounds, and checked against its budget over that floor:

- the one switch off (no ``genmon.enable``): ``@genmon.track`` sync and
  async, ``with``/``async with genmon.track``, a method ``genmon.attach``
  wrapped, ``genmon.emit``;
- capture off: a tracked call given 100,000 list items, against the same
  tracked call given one (capture off never looks at the arguments);
- events nobody listens to: ``monitor.emit`` with no subscriber;
- the profiler disabled (``monitor.profiler.enabled = False``): ``@monitor.profile``
  sync and async, ``with monitor.profile(...)``.

Async functions are driven without an event loop (``coroutine.send(None)``),
their floor the bare coroutine driven the same way. The median is the cost
the caller's thread sees on a typical call; the mean of the tracked call
also carries the calls slowed by the worker threads taking the GIL to drain
the queues, so it is printed too. A last part gives the end-to-end cost
(calls, then flush until every file is written) of a tracked call next to
the same figures recorded by hand with ``track_generation``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from typing import Any

from genmon import GenerationMonitor

BUDGET_US = 5.0
# Each switched-off path: (its floor, the budget in us over that floor's median). "Next to nothing":
# a global lookup and a call, or one attribute check.
OFF_PATHS: dict[str, tuple[str, float]] = {
    "@genmon.track, off": ("bare function", 0.3),
    "with <shared genmon.track>, off": ("bare function", 0.3),
    # Built in place, genmon.track(...) makes a tracker and checks its arguments at every call, so a bad
    # argument raises even while off: that check and the object cost ~0.5 us on their own.
    "with genmon.track(...), off": ("bare function", 1.0),
    "genmon.attach'ed method, off": ("bare method", 0.3),
    "genmon.emit, off": ("bare function", 0.3),
    "async @genmon.track, off": ("bare coroutine", 0.3),
    "async with <shared genmon.track>, off": ("bare coroutine", 0.5),
    "@monitor.track, capture off, 100k items": ("@monitor.track, capture off, 1 item", 0.5),
    "monitor.emit, no subscriber": ("bare function", 0.3),
    "@monitor.profile, disabled": ("bare function", 0.3),
    "async @monitor.profile, disabled": ("bare coroutine", 0.3),
    "with <shared monitor.profile>, disabled": ("bare function", 0.5),
}
ROUNDS = 20
CALLS_PER_ROUND = 5_000
QUICK_ROUNDS, QUICK_CALLS_PER_ROUND = 4, 1_000


def bare(x: int) -> int:
    return x + 1


async def bare_async(x: int) -> int:
    return x + 1


class Client:
    def complete(self, x: int) -> int:
        return x + 1


def driven(coroutine_function: Callable[[int], Coroutine[Any, Any, int]]) -> Callable[[int], int]:
    """``coroutine_function`` run to its end by hand: its cost without an event loop's."""

    def drive(x: int) -> int:
        coroutine = coroutine_function(x)
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        raise RuntimeError("the coroutine suspended")

    return drive


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run; figures are noisier)")
    parser.add_argument("--off-only", action="store_true", help="only the switched-off paths")
    args = parser.parse_args(argv)
    rounds, calls = (QUICK_ROUNDS, QUICK_CALLS_PER_ROUND) if args.quick else (ROUNDS, CALLS_PER_ROUND)
    if args.off_only:
        return 0 if switched_off(rounds, calls) else 1
    # Realistic sinks: metrics.jsonl, spans.jsonl and the log file are all written.
    with (
        tempfile.TemporaryDirectory() as tmp,
        GenerationMonitor(log_dir=tmp, metrics_interval=0, max_queue_size=2_000_000) as monitor,
    ):
        tracked = monitor.track("bench", span_type="TOOL", model_name="sim-small", component="bench")(bare)
        bare_ns: list[int] = []
        tracked_ns: list[int] = []
        per_call_ns(tracked, calls)  # warm up both paths
        per_call_ns(bare, calls)
        wall_start = time.perf_counter()
        for _ in range(rounds):
            bare_ns += per_call_ns(bare, calls)
            tracked_ns += per_call_ns(tracked, calls)
        wall = time.perf_counter() - wall_start
        drained_in = time.perf_counter()
        monitor.flush()
        drained_in = time.perf_counter() - drained_in
        spans = monitor.stats()["spans"]["processed"]
    n = len(tracked_ns)
    med_bare, med_tracked = statistics.median(bare_ns) / 1e3, statistics.median(tracked_ns) / 1e3
    mean_bare, mean_tracked = statistics.fmean(bare_ns) / 1e3, statistics.fmean(tracked_ns) / 1e3
    print(
        f"{n:,} calls each, {rounds} interleaved rounds, {wall:.2f} s; {spans:,} spans persisted, final flush {drained_in:.3f} s"
    )
    print(f"  bare function     median {med_bare:6.3f} us   mean {mean_bare:6.3f} us")
    print(f"  @monitor.track    median {med_tracked:6.3f} us   mean {mean_tracked:6.3f} us")
    diff = med_tracked - med_bare
    print(
        f"  tracking costs    median {diff:6.3f} us   mean {mean_tracked - mean_bare:6.3f} us   (budget {BUDGET_US:.1f} us)"
    )
    ok = diff <= BUDGET_US
    print("OK" if ok else "OVER BUDGET")
    ok = switched_off(rounds, calls) and ok
    end_to_end(10_000 if args.quick else 50_000)
    return 0 if ok else 1


def switched_off(rounds: int = ROUNDS, calls: int = CALLS_PER_ROUND) -> bool:
    """Every path of OFF_PATHS and every floor, interleaved in rounds; True when each path is within its budget."""
    import genmon

    genmon.disable()  # nothing enabled: the module-level calls must do (next to) nothing
    decorated = genmon.track("bench", span_type="TOOL", model_name="sim-small")(bare)
    decorated_async = genmon.track("bench", span_type="TOOL")(bare_async)
    shared = genmon.track("bench", span_type="TOOL")
    client = genmon.attach(Client())
    plain_client = Client()

    # The blocks hold the floor's body itself, so a block's figure is the block's cost alone.
    def with_block(x: int) -> int:
        with shared:
            return x + 1

    def with_fresh_block(x: int) -> int:
        with genmon.track("bench", span_type="TOOL"):
            return x + 1

    async def async_with_block(x: int) -> int:
        async with shared:
            return x + 1

    def module_emit(x: int) -> None:
        genmon.emit("bench.tick", i=x)

    many, one = list(range(100_000)), [0]
    with (
        tempfile.TemporaryDirectory() as tmp,
        GenerationMonitor(log_dir=tmp, metrics_interval=0, max_queue_size=2_000_000) as monitor,
    ):

        @monitor.track("bench", span_type="TOOL")
        def work(x: int, items: list[int]) -> int:
            return x + 1

        monitor.profiler.enabled = False
        profiled = monitor.profile("bench")(bare)
        profiled_async = monitor.profile("bench")(bare_async)
        profile_scope = monitor.profile("bench")

        def monitor_emit(x: int) -> None:
            monitor.emit("bench.tick", i=x)

        def profile_block(x: int) -> int:
            with profile_scope:
                return x + 1

        candidates: dict[str, Callable[[int], Any]] = {
            "bare function": bare,
            "bare method": plain_client.complete,
            "bare coroutine": driven(bare_async),
            "@monitor.track, capture off, 1 item": lambda x: work(x, one),
            "@genmon.track, off": decorated,
            "with <shared genmon.track>, off": with_block,
            "with genmon.track(...), off": with_fresh_block,
            "genmon.attach'ed method, off": client.complete,
            "genmon.emit, off": module_emit,
            "async @genmon.track, off": driven(decorated_async),
            "async with <shared genmon.track>, off": driven(async_with_block),
            "@monitor.track, capture off, 100k items": lambda x: work(x, many),
            "monitor.emit, no subscriber": monitor_emit,
            "@monitor.profile, disabled": profiled,
            "async @monitor.profile, disabled": driven(profiled_async),
            "with <shared monitor.profile>, disabled": profile_block,
        }
        times: dict[str, list[int]] = {label: [] for label in candidates}
        for fn in candidates.values():
            per_call_ns(fn, calls)  # warm up
        for _ in range(rounds):
            for label, fn in candidates.items():
                times[label] += per_call_ns(fn, calls)
        assert not monitor.get_profile(), "the disabled profiler recorded a run"
        monitor.flush()
        assert monitor.get_spans()[-1].inputs is None, "capture is off unless asked"
    return report_switched_off(times, rounds * calls)


def report_switched_off(times: dict[str, list[int]], calls: int) -> bool:
    """Print each path beside its floor (medians, us); True when every path is within its budget over its floor."""
    medians = {label: statistics.median(values) / 1e3 for label, values in times.items()}
    print(f"switched off ({calls:,} calls each, interleaved; medians per call):")
    print(f"  {'path':<41} {'median':>9}   {'floor':<36} {'median':>9}   {'over it':>9}   budget")
    ok = True
    for label, (floor, budget) in OFF_PATHS.items():
        over = medians[label] - medians[floor]
        within = over <= budget
        ok = ok and within
        print(
            f"  {label:<41} {medians[label]:6.3f} us   {floor:<36} {medians[floor]:6.3f} us   {over:+6.3f} us"
            f"   {budget:.1f} us {'OK' if within else 'OVER BUDGET'}"
        )
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
