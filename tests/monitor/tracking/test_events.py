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
