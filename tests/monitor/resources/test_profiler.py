"""monitor.profile: durations and memory deltas, sync and async, and get_profile."""

from __future__ import annotations

import asyncio
import math
import tracemalloc
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest

from genmon import GenerationMonitor, MonitorClosedError
from genmon.monitor.resources import profiler as profiler_module
from genmon.monitor.resources.profiler import Profiler

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
