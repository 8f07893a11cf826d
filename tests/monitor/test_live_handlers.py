"""afterimage's handler lists are live: assigned or mutated after construction, they take effect at the next batch."""

from __future__ import annotations

import threading
from typing import Any

from genmon import Alert, FileMetricHandler, GenerationMonitor
from genmon.testing import CapturingLogHandler, CapturingMetricHandler, LifecycleRecordingHandler

ClosingHandler = LifecycleRecordingHandler  # records its flush and close calls


def test_an_appended_metric_handler_gets_every_later_point_and_is_closed(make_monitor) -> None:
    """metric_handlers.append(h): h gets the points recorded after it, is flushed with flush() and closed with close()."""
    monitor: GenerationMonitor = make_monitor()
    monitor.record_metric("before", 1.0)
    assert monitor.flush(10)
    late = ClosingHandler("late")
    monitor.metric_handlers.append(late)
    for i in range(324):
        monitor.record_metric("x", float(i))
    assert monitor.flush(10)
    assert late.values("x") == [float(i) for i in range(324)] and late.values("before") == []
    assert "flush" in late.calls
    monitor.close()
    assert late.calls[-1] == "close"
    assert monitor.stats()["sinks"]["late"]["delivered"] == 324


def test_an_appended_log_handler_gets_every_later_record(make_monitor) -> None:
    """log_handlers.append(h): h gets the log records written after it."""
    monitor: GenerationMonitor = make_monitor()
    logs = CapturingLogHandler()
    monitor.log_handlers.append(logs)
    for i in range(76):
        monitor.log_info("step", i=i)
    assert monitor.flush(10)
    assert [r["i"] for r in logs.records if r["message"] == "step"] == list(range(76))


def test_reassigning_the_list_swaps_the_handlers_and_closes_the_old_ones(make_monitor) -> None:
    """metric_handlers = [new]: new gets what follows; the old handlers (metrics.jsonl included) are flushed and closed."""
    old = ClosingHandler("old")
    monitor: GenerationMonitor = make_monitor(metric_handlers=[old, FileMetricHandler_for(make_monitor)])
    monitor.record_metric("x", 1.0)
    assert monitor.flush(10)
    new = ClosingHandler("new")
    monitor.metric_handlers = [new]
    monitor.record_metric("x", 2.0)
    assert monitor.flush(10)
    assert old.values("x") == [1.0] and new.values("x") == [2.0]
    assert old.calls[-2:] == ["flush", "close"]
    assert monitor.stats()["sinks"]["old"]["delivered"] == 1  # a retired handler keeps its counts


def FileMetricHandler_for(make_monitor: Any) -> FileMetricHandler:
    import tempfile
    from pathlib import Path

    return FileMetricHandler(Path(tempfile.mkdtemp()))


def test_remove_extend_and_clear_take_effect(make_monitor) -> None:
    """remove() stops a handler (and closes it), extend() adds, clear() leaves none."""
    a, b, c = ClosingHandler("a"), ClosingHandler("b"), ClosingHandler("c")
    monitor: GenerationMonitor = make_monitor(metric_handlers=[a, b])
    monitor.record_metric("x", 1.0)
    assert monitor.flush(10)
    monitor.metric_handlers.remove(a)
    monitor.metric_handlers.extend([c])
    monitor.record_metric("x", 2.0)
    assert monitor.flush(10)
    monitor.metric_handlers.clear()
    monitor.record_metric("x", 3.0)
    assert monitor.flush(10)
    assert (a.values("x"), b.values("x"), c.values("x")) == ([1.0], [1.0, 2.0], [2.0])
    assert a.calls[-1] == "close" and b.calls[-1] == "close" and c.calls[-1] == "close"


def test_the_list_given_to_the_constructor_stays_live(make_monitor) -> None:
    """A program that keeps the list it passed and appends to it later is heard, as with afterimage."""
    handlers: list[Any] = []
    monitor: GenerationMonitor = make_monitor(metric_handlers=handlers)
    capture = CapturingMetricHandler("capture")
    handlers.append(capture)
    monitor.record_metric("x", 1.0)
    assert monitor.flush(10)
    assert capture.values("x") == [1.0]


def test_alert_handlers_assigned_after_construction_hear_check_alerts(make_monitor) -> None:
    """monitor.alert_handlers = [capture] then check_alerts(): capture has the alert when check_alerts returns."""
    monitor: GenerationMonitor = make_monitor(alert_max_error_rate=0.1, alert_min_success_rate=0.0)
    captured: list[Alert] = []
    monitor.alert_handlers = [captured.append]
    monitor.track_generation(1.0, False, error="boom")
    monitor.check_alerts()
    assert [a.name for a in captured] == ["high_error_rate"]


def test_check_alerts_returns_after_every_handler_returned_isolation_kept(make_monitor) -> None:
    """A slow handler has run when check_alerts returns; a raising one is counted and the others still hear; a hung one is timed out."""
    release = threading.Event()
    slow_done: list[str] = []
    heard: list[str] = []

    def slow(alert: Alert) -> None:
        threading.Event().wait(0.2)  # work that takes a while, not a wait for genmon
        slow_done.append(alert.name)

    def raising(alert: Alert) -> None:
        raise RuntimeError("pager down")

    def hung(alert: Alert) -> None:
        release.wait()

    monitor: GenerationMonitor = make_monitor(
        alert_max_error_rate=0.1,
        alert_min_success_rate=0.0,
        alert_handler_timeout=0.5,
        alert_handlers=[slow, raising, hung, heard.append],
    )
    try:
        monitor.track_generation(1.0, False, error="boom")
        fired = monitor.check_alerts()
        assert slow_done == ["high_error_rate"] and [a.name for a in fired] == ["high_error_rate"]
        assert heard == [fired[0]]  # type: ignore[comparison-overlap]
        errors = monitor.errors.snapshot()
        assert errors["raising"] == 1 and errors["hung"] == 1  # timed out within the check, counted
    finally:
        release.set()


def test_send_resolved_false_keeps_afterimages_cadence(make_monitor, clock) -> None:
    """With send_resolved=False a rule that stops holding sends no recovery alert to the handlers."""
    captured: list[Alert] = []
    monitor: GenerationMonitor = make_monitor(
        clock=clock,
        alert_handlers=[captured.append],
        alert_max_error_rate=0.1,
        alert_min_success_rate=0.0,
        alert_window=60,
        send_resolved=False,
    )
    monitor.track_generation(1.0, False, error="boom")
    monitor.check_alerts()
    clock.advance(61)
    monitor.track_generation(1.0, True)
    resolved = monitor.check_alerts()
    assert [a.data["state"] for a in resolved] == ["resolved"]  # returned and logged...
    assert [a.data["state"] for a in captured] == ["firing"]  # ...but never sent
