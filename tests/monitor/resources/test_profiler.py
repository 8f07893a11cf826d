"""monitor.profile: durations and memory deltas, sync and async, and get_profile."""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import NoReturn

import numpy as np
import pytest

from genmon import GenerationMonitor, MonitorClosedError, ProfileRun
from genmon.monitor.resources import profiler as profiler_module
from genmon.monitor.resources.profiler import Profiler
from genmon.testing import ManualClock

Make = Callable[..., GenerationMonitor]


@pytest.fixture
def tracing() -> Iterator[None]:
    """tracemalloc on for the test, off afterwards."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def test_profile_as_decorator_and_context_manager_sync_and_async(make_monitor: Make) -> None:
    """Every form counts its runs under its name and records duration and memory metrics."""
    monitor = make_monitor()

    @monitor.profile("parse")
    def parse(text: str) -> list[str]:
        return text.split()

    @monitor.profile("fetch")
    async def fetch() -> int:
        await asyncio.sleep(0)
        return 1

    async def run() -> None:
        assert await fetch() == 1
        async with monitor.profile("fetch"):
            await asyncio.sleep(0)

    assert parse("a b") == ["a", "b"] and parse.__name__ == "parse"
    with monitor.profile("parse"):
        parse("c")
    asyncio.run(run())
    report = monitor.get_profile()
    assert report["parse"]["count"] == 3 and report["fetch"]["count"] == 2
    for figures in report.values():
        assert figures["mean_s"] == pytest.approx(figures["total_s"] / figures["count"])
        assert 0 <= figures["mean_s"] <= figures["max_s"] and figures["p95_s"] <= figures["max_s"]
        assert math.isfinite(figures["memory_delta_mean_bytes"])
    monitor.sync_store()
    assert monitor.get_metrics("profile/parse/duration_s")["count"] == 3
    assert monitor.get_metrics("profile/fetch/memory_delta_bytes")["count"] == 2


def test_memory_delta_uses_tracemalloc_when_tracing(make_monitor: Make, tracing: None) -> None:
    """With tracemalloc tracing, the memory delta counts the Python objects the block kept alive."""
    monitor = make_monitor()
    kept: list[bytes] = []
    assert Profiler().memory_now()[1] == "tracemalloc"
    with monitor.profile("allocate"):
        kept.append(bytes(5_000_000))
    assert monitor.get_profile()["allocate"]["memory_delta_mean_bytes"] >= 5_000_000


def test_memory_falls_back_to_rss() -> None:
    """Without tracemalloc the memory figure is the process's resident set size."""
    assert not tracemalloc.is_tracing()
    memory, source = Profiler().memory_now()
    assert source == "rss" and memory > 0


def test_exceptions_propagate_and_are_still_profiled(make_monitor: Make) -> None:
    """A profiled block that raises re-raises and still counts its run."""
    monitor = make_monitor()
    with pytest.raises(ZeroDivisionError), monitor.profile("div"):
        1 / 0  # noqa: B018
    assert monitor.get_profile()["div"]["count"] == 1


def test_after_close_profiling_raises_but_never_hides_the_blocks_error(make_monitor: Make) -> None:
    """On a closed monitor a profiled run raises MonitorClosedError, unless the block's own error is propagating."""
    monitor = make_monitor()
    scope = monitor.profile("late")
    monitor.close()
    with pytest.raises(MonitorClosedError), scope:
        pass
    with pytest.raises(KeyError), scope:
        raise KeyError("own error")

    @scope
    def fails() -> None:
        raise KeyError("own error")

    with pytest.raises(KeyError):
        fails()


def test_one_scope_shared_by_overlapping_tasks_pairs_each_entry_with_its_exit(
    make_monitor: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tasks whose blocks overlap (A enters, B enters, A exits, B exits) each get their own duration."""
    ticks = iter(range(0, 1000, 10))
    monkeypatch.setattr(profiler_module, "time", SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    monitor = make_monitor()
    scope = monitor.profile("shared")
    a_entered, b_entered, a_exited = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def task_a() -> None:
        async with scope:  # tick 0
            a_entered.set()
            await b_entered.wait()
        a_exited.set()  # exited at tick 20

    async def task_b() -> None:
        await a_entered.wait()
        async with scope:  # tick 10
            b_entered.set()
            await a_exited.wait()
        # exited at tick 30

    async def run() -> None:
        await asyncio.gather(task_a(), task_b())

    asyncio.run(run())
    monitor.sync_store()
    series = monitor.store.series("profile/shared/duration_s")
    assert series is not None and series.values.tolist() == [20.0, 20.0]
    assert monitor.get_profile()["shared"]["count"] == 2


def test_profile_names_must_be_strings(make_monitor: Make) -> None:
    """An empty or non-string profile name raises at once."""
    monitor = make_monitor()
    with pytest.raises(ValueError):
        monitor.profile("")
    with pytest.raises(TypeError):
        monitor.profile(3)  # type: ignore[arg-type]


def test_every_decorator_form_works_sync_and_async(make_monitor: Make) -> None:
    """Bare @monitor.profile, @monitor.profile(), @monitor.profile("name") decorate sync and async functions."""
    monitor = make_monitor()

    @monitor.profile
    def bare(x: int) -> int:
        return x + 1

    @monitor.profile
    async def bare_async(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    @monitor.profile()
    async def called_empty() -> str:
        await asyncio.sleep(0)
        return "ok"

    @monitor.profile("named")
    async def named_async() -> int:
        return 2

    assert bare(1) == 2 and bare.__name__ == "bare"
    assert inspect.iscoroutinefunction(bare_async) and bare_async.__name__ == "bare_async"
    assert asyncio.run(bare_async(2)) == 4
    assert asyncio.run(called_empty()) == "ok"
    assert asyncio.run(named_async()) == 2
    report = monitor.get_profile()
    assert set(report) == {bare.__qualname__, bare_async.__qualname__, called_empty.__qualname__, "named"}
    assert all(figures["count"] == 1 for figures in report.values())
    (run,) = monitor.profiler.runs(bare_async.__qualname__)  # the bare async form keeps its run
    assert run.name == bare_async.__qualname__ and run.exception_type is None
    assert run.duration_s >= 0 and run.end == run.start + run.duration_s


def test_runs_are_kept_with_their_times_memory_metadata_and_errors(make_monitor: Make, clock: ManualClock) -> None:
    """Each run keeps start and end (the monitor's clock), duration, memory delta, metadata and the exception type."""
    monitor = make_monitor(clock=clock)
    with monitor.profile("load", metadata={"batch": 3}):
        pass
    with pytest.raises(KeyError), monitor.profile("load", metadata={"batch": 4}):
        raise KeyError("missing")
    first, second = monitor.profiler.runs("load")
    assert isinstance(first, ProfileRun)
    assert first.start == clock() and first.end == pytest.approx(first.start + first.duration_s)
    assert first.duration_s >= 0 and math.isfinite(first.memory_delta_bytes)
    assert (first.metadata, first.exception_type, first.stack) == ({"batch": 3}, None, None)
    assert (second.metadata, second.exception_type) == ({"batch": 4}, "KeyError")
    monitor.sync_store()
    points = monitor.store.series("profile/load/duration_s")
    assert points is not None and [m["batch"] for m in points.metadata()] == [3, 4]  # metadata on the points too
    assert monitor.profiler.runs("never") == []


def test_only_the_last_runs_are_kept_and_totals_count_all(make_monitor: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """max_runs bounds the runs kept per name; count, total, mean and max cover every run, the p95 the runs kept."""
    # Each run reads the counter twice (begin, end): runs of 1, 2, 3, 4 and 100 s.
    readings = iter([0.0, 1.0, 10.0, 12.0, 20.0, 23.0, 30.0, 34.0, 40.0, 140.0])
    monkeypatch.setattr(profiler_module, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    monitor = make_monitor()
    monitor.profiler.max_runs = 3
    for _ in range(5):
        with monitor.profile("step"):
            pass
    runs = monitor.profiler.runs("step")
    assert [r.duration_s for r in runs] == [3.0, 4.0, 100.0]
    figures = monitor.get_profile("step")
    assert (figures["count"], figures["total_s"], figures["max_s"]) == (5, 110.0, 100.0)
    assert figures["mean_s"] == 22.0
    assert figures["p95_s"] == pytest.approx(float(np.percentile([3.0, 4.0, 100.0], 95)))
    monitor.profiler.max_runs = 1
    assert [r.duration_s for r in monitor.profiler.runs("step")] == [100.0]
    with pytest.raises(ValueError, match="max_runs"):
        monitor.profiler.max_runs = 0


def test_get_profile_of_one_name_and_of_all(make_monitor: Make) -> None:
    """get_profile(name) gives that name's totals; an unknown name raises naming those profiled."""
    monitor = make_monitor()
    with monitor.profile("a"):
        pass
    assert monitor.get_profile("a")["count"] == 1
    assert set(monitor.get_profile()) == {"a"}
    with pytest.raises(ValueError, match="'b'.*profiled: a"):
        monitor.get_profile("b")
    monitor.profiler.reset()
    assert monitor.get_profile() == {}


def test_the_stack_is_kept_when_asked(make_monitor: Make) -> None:
    """With collect_stack, each run keeps the frames it started from, the caller's last."""
    monitor = make_monitor()
    monitor.profiler.collect_stack = True

    @monitor.profile("deep")
    def deep() -> None:
        pass

    deep()
    with monitor.profile("block"):
        pass
    for name in ("deep", "block"):
        (run,) = monitor.profiler.runs(name)
        assert run.stack is not None
        assert "test_the_stack_is_kept_when_asked" in run.stack[-1], run.stack[-1]


def test_a_disabled_profiler_does_no_work(make_monitor: Make) -> None:
    """enabled=False: decorated functions and blocks, sync and async, run as they are and nothing is read or kept."""
    monitor = make_monitor()
    profiler = monitor.profiler

    @monitor.profile
    def add(a: int, b: int) -> int:
        return a + b

    @monitor.profile("fetch")
    async def fetch() -> str:
        return "page"

    def no_work(*args: object) -> NoReturn:
        raise AssertionError("a disabled profiler read a clock or memory")

    profiler.enabled = False
    # Every reading a run makes goes through begin() and memory_now(): neither may run.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(profiler, "begin", no_work)
        patch.setattr(profiler, "memory_now", no_work)
        assert add(2, 3) == 5
        assert asyncio.run(fetch()) == "page"
        with monitor.profile("block"):
            pass

        async def block() -> None:
            async with monitor.profile("block"):
                pass

        asyncio.run(block())
    assert monitor.get_profile() == {}
    monitor.sync_store()
    assert not [name for name in monitor.store.names() if name.startswith("profile/")]
    profiler.enabled = True
    assert add(1, 1) == 2 and monitor.get_profile()[add.__qualname__]["count"] == 1


def test_threads_profile_one_name_at_once(make_monitor: Make) -> None:
    """Four threads profiling the same name lose no run: the count is exact and the kept runs are bounded."""
    monitor = make_monitor()
    monitor.profiler.max_runs = 50

    @monitor.profile("work")
    def work() -> None:
        pass

    def loop() -> None:
        for _ in range(100):
            work()

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert monitor.get_profile("work")["count"] == 400
    assert len(monitor.profiler.runs("work")) == 50
    monitor.sync_store()
    assert monitor.get_metrics("profile/work/duration_s")["count"] == 400


def test_names_beyond_the_bound_are_recorded_but_not_kept(make_monitor: Make) -> None:
    """At max_names, runs of a new name still become points, but the profiler keeps no figures for it and counts them."""
    monitor = make_monitor()
    monitor.profiler.max_names = 2
    for name in ("a", "b", "c", "c"):
        with monitor.profile(name):
            pass
    assert set(monitor.get_profile()) == {"a", "b"}
    assert monitor.profiler.names_refused == 2
    monitor.sync_store()
    assert monitor.get_metrics("profile/c/duration_s")["count"] == 2


def test_a_with_block_needs_a_name(make_monitor: Make) -> None:
    """monitor.profile() without a name decorates only: a with block says so."""
    monitor = make_monitor()
    with pytest.raises(TypeError, match="needs a name"), monitor.profile():
        pass
