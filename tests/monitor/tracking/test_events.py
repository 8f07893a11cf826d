"""monitor.on: event callbacks, isolated from the generator and from each other."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genmon import GenerationMonitor, MonitorClosedError
from genmon.monitor.tracking.events import Event

Make = Callable[..., GenerationMonitor]


def errors_of(monitor: GenerationMonitor, callback: Callable[..., Any]) -> int:
    """Failures counted for one callback, whatever event it is subscribed to."""
    suffix = ":" + callback.__qualname__
    return sum(
        n for name, n in monitor.errors.snapshot().items() if name.startswith("callback:") and name.endswith(suffix)
    )


def test_callbacks_are_isolated_one_raises_one_hangs_one_is_async(make_monitor: Make) -> None:
    """A raising and a hanging callback are counted; the async one gets every event; the generator sees nothing."""
    release = threading.Event()
    async_seen: list[str] = []

    def raising(event: Event) -> None:
        raise RuntimeError("callback bug")

    def hanging(event: Event) -> None:
        release.wait()

    async def recorder(event: Event) -> None:
        await asyncio.sleep(0)
        assert event.span is not None
        async_seen.append(event.span.name)

    monitor = make_monitor(callback_timeout=0.5)
    for callback in (raising, hanging, recorder):
        monitor.on("generation_end", callback)
    try:
        for i in range(3):
            with monitor.track(f"call{i}"):
                pass
        assert monitor.flush(30)
        assert async_seen == ["call0", "call1", "call2"]
        assert errors_of(monitor, raising) == 3
        # The first call timed out; the two events that came while it still hung were skipped.
        assert errors_of(monitor, hanging) == 3
        counts = monitor.stats()["events"]
        assert (counts["delivered"], counts["failed"], counts["timed_out"], counts["skipped"]) == (3, 3, 1, 2)
    finally:
        release.set()


def test_generation_events_carry_the_span(make_monitor: Make) -> None:
    """generation_start gives the call's ids; generation_end and generation_error give the finished span."""
    events: list[Event] = []
    threads: set[str] = set()

    def keep(event: Event) -> None:
        threads.add(threading.current_thread().name)
        events.append(event)

    monitor = make_monitor()
    for name in ("generation_start", "generation_end", "generation_error"):
        monitor.on(name, keep)
    with monitor.track("ok", model_name="m") as span:
        pass
    with pytest.raises(ValueError), monitor.track("bad"):
        raise ValueError("no")
    assert monitor.flush(10)
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.name, []).append(event)
    assert [e.data["name"] for e in by_kind["generation_start"]] == ["ok", "bad"]
    assert by_kind["generation_start"][0].data["call_id"] == span.call_id
    assert [e.span.name for e in by_kind["generation_end"]] == ["ok", "bad"]  # type: ignore[union-attr]
    (error,) = by_kind["generation_error"]
    assert error.span is not None and error.span.exception_type == "ValueError" and error.data["success"] is False
    assert threading.current_thread().name not in threads


def test_generation_start_arrives_before_the_call_returns(make_monitor: Make) -> None:
    """generation_start reaches its callback before the tracked call returns (synalinks' call_begin), sync and async.

    The callback appends to ``order`` on its lane; each call flushes (which waits for the callbacks of the
    events emitted so far) before it returns, and the caller appends once it has returned. A start event
    sent only when the call finishes would come after the call's return.
    """
    order: list[str] = []
    received: list[Event] = []

    def on_start(event: Event) -> None:
        received.append(event)
        order.append(f"start {event.data['name']}")

    monitor = make_monitor(capture_io=True)
    monitor.on("generation_start", on_start)

    with monitor.track("sync_block") as span:
        assert monitor.flush(10)
    order.append("returned sync_block")
    assert received[-1].data["call_id"] == span.call_id

    @monitor.track("sync_decorated")
    def sync_decorated(question: str) -> str:
        assert monitor.flush(10)
        return question

    assert sync_decorated("what") == "what"
    order.append("returned sync_decorated")

    async def async_block() -> str:
        async with monitor.track("async_block") as async_span:
            assert monitor.flush(10)
        order.append("returned async_block")
        return async_span.call_id

    call_id = asyncio.run(async_block())
    assert received[-1].data["call_id"] == call_id

    @monitor.track("async_decorated")
    async def async_decorated(question: str) -> str:
        await asyncio.sleep(0)
        assert monitor.flush(10)
        return question

    assert asyncio.run(async_decorated("why")) == "why"
    order.append("returned async_decorated")
    assert monitor.flush(10)
    names = ("sync_block", "sync_decorated", "async_block", "async_decorated")
    assert order == [line for name in names for line in (f"start {name}", f"returned {name}")]
    assert received[-1].data["inputs"] == {"question": "why"}  # call_begin's inputs, serialised on the lane


def test_track_generation_fires_end_and_error_events(make_monitor: Make) -> None:
    """Calls to track_generation (afterimage's generators) fire generation_end, and generation_error when failed."""
    seen: list[tuple[str, bool, Any]] = []
    monitor = make_monitor()

    @monitor.on("generation_end")
    def end(event: Event) -> None:
        seen.append((event.name, event.data["success"], event.data.get("model_name")))

    monitor.on("generation_error", lambda event: seen.append((event.name, event.data["success"], event.data["error"])))
    monitor.track_generation(0.5, True, model_name="m")
    monitor.track_generation(0.5, False, model_name="m", error="rate limited")
    assert monitor.flush(10)
    assert sorted(seen, key=str) == sorted(
        [("generation_end", True, "m"), ("generation_end", False, "m"), ("generation_error", False, "rate limited")],
        key=str,
    )


def test_an_async_callback_past_its_timeout_is_cancelled(make_monitor: Make) -> None:
    """An async callback that outlives the timeout is cancelled and counted."""
    cancelled = threading.Event()

    async def stuck(event: Event) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    monitor = make_monitor(callback_timeout=0.1)
    monitor.on("generation_end", stuck)
    with monitor.track("x"):
        pass
    assert monitor.flush(30)
    assert cancelled.is_set() and errors_of(monitor, stuck) == 1


def test_flush_and_close_events(tmp_path: Path) -> None:
    """flush fires after the files are written; close fires after everything was persisted."""
    seen: list[tuple[str, int]] = []
    spans_file = tmp_path / "spans.jsonl"

    def lines() -> int:
        return len(spans_file.read_bytes().splitlines()) if spans_file.exists() else 0

    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    monitor.on("flush", lambda event: seen.append(("flush", lines())))
    monitor.on("close", lambda event: seen.append(("close", lines())))
    with monitor.track("a"):
        pass
    assert monitor.flush(10)
    with monitor.track("b"):
        pass
    assert monitor.close(10)
    assert seen == [("flush", 1), ("close", 2)]


def test_alert_event_receives_alerts(make_monitor: Make) -> None:
    """on("alert") callbacks receive each alert the rules fire."""
    alerts: list[Event] = []
    monitor = make_monitor(alert_max_error_rate=0.1)
    monitor.on("alert", alerts.append)
    monitor.track_generation(1.0, False, error="boom")
    fired = monitor.check_alerts(10)
    assert "high_error_rate" in {alert.name for alert in fired}
    monitor.close(10)  # alert handlers and callbacks have run when close returns
    assert sorted(e.alert.name for e in alerts if e.alert is not None) == sorted(alert.name for alert in fired)
    (high,) = [e for e in alerts if e.data["name"] == "high_error_rate"]
    assert high.data["level"] == "error"


def test_bad_subscriptions_are_refused(make_monitor: Make) -> None:
    """Unknown events and non-callables raise at once; a closed monitor takes no new callback."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match="generation_end"):
        monitor.on("generation_done", print)
    with pytest.raises(TypeError):
        monitor.on("flush", "not callable")  # type: ignore[arg-type]
    monitor.close()
    with pytest.raises(MonitorClosedError):
        monitor.on("flush", print)


def test_no_event_thread_without_callbacks(make_monitor: Make) -> None:
    """A monitor with no callback starts no event thread."""
    make_monitor()
    assert not [t for t in threading.enumerate() if t.name in ("genmon-events",)]


def test_on_with_only_a_callback_receives_every_event(make_monitor: Make) -> None:
    """Regression: monitor.on(callback) registered nothing; it now receives every event, custom ones included."""
    seen: list[str] = []
    monitor = make_monitor()
    assert monitor.on(lambda event: seen.append(event.name)) is not None
    with monitor.track("call"):
        pass
    monitor.emit("cache.miss", key="k")
    assert monitor.flush(10)
    # generation_end comes from the span worker, so it may follow an event emitted after the call; flush comes last.
    assert sorted(seen[:3]) == ["cache.miss", "generation_end", "generation_start"] and seen[3:] == ["flush"]


def test_on_takes_bare_decorators_lists_and_none(make_monitor: Make) -> None:
    """@monitor.on, @monitor.on(), @monitor.on([names]) and on([names], cb): one lane per subscription, in order."""
    every: list[str] = []
    listed: list[str] = []
    later: list[str] = []
    monitor = make_monitor()

    @monitor.on
    def bare(event: Event) -> None:
        every.append(event.name)

    @monitor.on()
    def called(event: Event) -> None:
        every.append("called:" + event.name)

    @monitor.on(["step.begin", "step.end"])
    def listed_callback(event: Event) -> None:
        listed.append(event.name)

    monitor.on(["late.event"], lambda event: later.append(event.data["n"]))
    for i in range(3):
        monitor.emit("step.begin", i=i)
        with monitor.track("call"):
            pass
        monitor.emit("step.end", i=i)
    monitor.emit("late.event", n=7)
    assert monitor.flush(10)
    assert listed == ["step.begin", "step.end"] * 3  # one lane: the two events in the order emitted
    assert later == [7]
    assert every.count("late.event") == 1 and every.count("called:late.event") == 1
    assert monitor.stats()["events"]["every_event_callbacks"] == 2
    # one thread per subscription, whatever the number of events it covers
    names = [t.name for t in threading.enumerate() if t.name.startswith("genmon-callback-")]
    assert len([n for n in names if "watchdog" not in n]) == 4


def test_custom_events_carry_their_data_source_and_time_in_nanoseconds(make_monitor: Make, clock: Any) -> None:
    """emit(name, **data): source is the emitting module (or source=), ts_ns is the monitor's clock in ns."""
    seen: list[Event] = []
    monitor = make_monitor(clock=clock)
    monitor.on("batch.done", seen.append)
    monitor.emit("batch.done", size=32, ok=True)
    clock.advance(1.5)
    monitor.emit("batch.done", source="trainer", size=8)
    assert monitor.flush(10)
    first, second = seen
    assert (first.data, first.source) == ({"size": 32, "ok": True}, __name__)
    assert (second.data, second.source) == ({"size": 8}, "trainer")
    assert first.ts_ns == 1_800_000_000_000_000_000 and second.ts_ns == 1_800_000_001_500_000_000
    assert first.timestamp == first.ts_ns / 1e9
    assert (first.span, first.alert) == (None, None)


def test_genmon_events_have_genmon_as_source_and_a_real_time_ns(make_monitor: Make) -> None:
    """Built-in events: source "genmon"; with the default clock ts_ns is time.time_ns() at emission."""
    import time

    seen: list[Event] = []
    monitor = make_monitor()
    monitor.on(["generation_start", "generation_end"], seen.append)
    before = time.time_ns()
    with monitor.track("x"):
        pass
    assert monitor.flush(10)
    assert [e.source for e in seen] == ["genmon", "genmon"]
    assert before <= seen[0].ts_ns <= seen[1].ts_ns <= time.time_ns()


def test_event_names_are_checked_with_a_clear_error(make_monitor: Make) -> None:
    """Bad names, typos of genmon's own and emitting genmon's own events are refused at the call."""
    monitor = make_monitor()
    for bad in ("", "has space", "1starts_with_digit", "x" * 129):
        with pytest.raises(ValueError, match="event name"):
            monitor.on(bad, print)
        with pytest.raises(ValueError, match="event name"):
            monitor.emit(bad)
    with pytest.raises(ValueError, match="event name"):
        monitor.emit(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="genmon's events are"):
        monitor.on(["ok.name", "generation_done"], print)
    with pytest.raises(ValueError, match="genmon's events are"):
        monitor.on("generation_done")  # the decorator form checks at once
    with pytest.raises(ValueError, match="emitted by genmon itself"):
        monitor.emit("alert", name="fake")
    with pytest.raises(ValueError, match="at least one"):
        monitor.on([], print)
    with pytest.raises(TypeError, match="events must be"):
        monitor.on(42, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source"):
        monitor.on("x.y", print)
        monitor.emit("x.y", source=3)  # type: ignore[arg-type]
    monitor.close()
    with pytest.raises(MonitorClosedError):
        monitor.emit("x.y")


def test_emitting_with_no_subscriber_does_no_work(make_monitor: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """No subscriber: no Event is built, no lane or thread is started, nothing is counted."""
    from genmon.monitor.tracking import events as events_module

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an Event was built with nobody to receive it")

    monitor = make_monitor()
    monkeypatch.setattr(events_module, "Event", forbidden)
    for i in range(1000):
        monitor.emit("tick", i=i)
    monitor.on("other.event", print)  # a subscriber of another event changes nothing for "tick"
    monitor.emit("tick", i=0)
    counts = monitor.stats()["events"]
    assert (counts["delivered"], counts["pending"]) == (0, 0)


def test_custom_event_callbacks_keep_their_timeout_and_isolation(make_monitor: Make) -> None:
    """A hanging and a raising callback of a custom event are counted; an async one and a sync one get every event."""
    release = threading.Event()
    got: list[int] = []
    async_got: list[int] = []

    def hanging(event: Event) -> None:
        release.wait()

    def raising(event: Event) -> None:
        raise RuntimeError("callback bug")

    async def in_async(event: Event) -> None:
        await asyncio.sleep(0)
        async_got.append(event.data["i"])

    monitor = make_monitor(callback_timeout=0.3)
    for callback in (hanging, raising, in_async):
        monitor.on("work.item", callback)
    monitor.on(lambda event: got.append(event.data["i"]) if event.name == "work.item" else None)
    try:
        for i in range(3):
            monitor.emit("work.item", i=i)
        assert monitor.flush(30)
        assert got == [0, 1, 2] and async_got == [0, 1, 2]
        assert errors_of(monitor, raising) == 3
        assert errors_of(monitor, hanging) == 3  # one timed out, the two behind it skipped
    finally:
        release.set()


def test_events_from_threads_and_tasks_all_arrive(make_monitor: Make) -> None:
    """Events emitted from 4 threads and from asyncio tasks all reach an every-event callback."""
    seen: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def keep(event: Event) -> None:
        with lock:
            seen.append((event.name, event.data.get("i")))

    monitor = make_monitor()
    monitor.on(["from.thread", "from.task"], keep)

    def emit_many() -> None:
        for i in range(50):
            monitor.emit("from.thread", i=i)

    threads = [threading.Thread(target=emit_many) for _ in range(4)]
    for thread in threads:
        thread.start()

    async def main() -> None:
        async def one(i: int) -> None:
            await asyncio.sleep(0)
            monitor.emit("from.task", i=i)

        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(main())
    for thread in threads:
        thread.join()
    assert monitor.flush(10)
    assert sum(1 for name, _ in seen if name == "from.thread") == 200
    assert sorted(i for name, i in seen if name == "from.task") == list(range(20))
