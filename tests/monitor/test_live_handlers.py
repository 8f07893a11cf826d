"""afterimage's handler lists are live: assigned or mutated after construction, they take effect at the next batch."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import pytest

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


class _LifecycleHandler(LifecycleRecordingHandler):
    """A metric and log handler that records the steps it hears (values, or the log's step) and its flush and close calls."""

    def handle_log(self, message: dict[str, Any]) -> None:
        if message.get("message") == "step":
            self.handle_metric("x", message["step"], {})


def _record_step(monitor: GenerationMonitor, kind: str, step: int) -> None:
    if kind == "metric_handlers":
        monitor.record_metric("x", step)
    else:
        monitor.log_info("step", step=step)


@pytest.mark.parametrize("kind", ["metric_handlers", "log_handlers"])
def test_append_remove_extend_reassign_and_clear_take_effect_and_removed_handlers_are_flushed_and_closed(
    make_monitor, kind: str
) -> None:
    """Each change to the list counts from the next record; a handler taken off is flushed then closed, once."""
    a, b, c, d, e = (_LifecycleHandler(name) for name in "abcde")
    monitor: GenerationMonitor = make_monitor(**{kind: [a, b]})
    handlers = lambda: getattr(monitor, kind)  # the live list, read again after each reassignment
    steps = [
        lambda: None,  # step 1: the constructor's list
        lambda: handlers().append(c),
        lambda: handlers().remove(a),
        lambda: handlers().extend([d]),
        lambda: setattr(monitor, kind, [e]),
        lambda: handlers().clear(),
    ]
    everyone = (a, b, c, d, e)
    for step, change in enumerate(steps, start=1):
        calls_before = [len(h.calls) for h in everyone]
        listed_before = list(handlers())
        change()
        listed = list(handlers())
        _record_step(monitor, kind, step)
        assert monitor.flush(10)
        for handler, start in zip(everyone, calls_before, strict=True):
            # listed: flushed by flush(); just taken off: flushed, then closed; otherwise left alone
            expected = ["flush"] if handler in listed else ["flush", "close"] if handler in listed_before else []
            assert handler.calls[start:] == expected, (step, handler.name)  # type: ignore[attr-defined]
    heard = {h.name: h.values("x") for h in everyone}  # type: ignore[attr-defined]
    assert heard == {"a": [1, 2], "b": [1, 2, 3, 4], "c": [2, 3, 4], "d": [4], "e": [5]}
    monitor.close()
    assert all(h.calls.count("close") == 1 and h.calls[-1] == "close" for h in everyone)  # nothing after, once


def test_alert_handler_list_append_remove_extend_reassign_and_clear_take_effect(make_monitor) -> None:
    """Each change to alert_handlers counts from the next check_alerts(): a removed handler hears nothing more.

    Alert handlers are plain callables: genmon never flushes or closes them,
    those given to the constructor included, so there is no lifecycle to check.
    """
    heard: dict[str, list[int]] = {name: [] for name in "abcde"}
    current = [0]

    def ear(name: str) -> Any:
        def hear(alert: Alert) -> None:
            heard[name].append(current[0])

        hear.__name__ = name
        return hear

    a, b, c, d, e = (ear(name) for name in "abcde")
    monitor: GenerationMonitor = make_monitor(
        alert_handlers=[a, b], alert_cooldown=0, alert_max_error_rate=0.1, alert_min_success_rate=0.0
    )
    monitor.track_generation(1.0, False, error="boom")  # high_error_rate fires on every pass (cooldown 0)
    steps = [
        lambda: None,
        lambda: monitor.alert_handlers.append(c),
        lambda: monitor.alert_handlers.remove(a),
        lambda: monitor.alert_handlers.extend([d]),
        lambda: setattr(monitor, "alert_handlers", [e]),
        lambda: monitor.alert_handlers.clear(),
    ]
    for step, change in enumerate(steps, start=1):
        change()
        current[0] = step
        assert [alert.name for alert in monitor.check_alerts()] == ["high_error_rate"]
    assert heard == {"a": [1, 2], "b": [1, 2, 3, 4], "c": [2, 3, 4], "d": [4], "e": [5]}


def test_recording_takes_no_sink_lock_and_the_lists_are_read_once_per_batch(make_monitor, monkeypatch) -> None:
    """With each pipeline's SinkSet lock held by another thread, record calls still return; each list is synced per batch, not per record."""
    metrics, logs = CapturingMetricHandler("metrics"), CapturingLogHandler()
    monitor: GenerationMonitor = make_monitor(metric_handlers=[metrics], log_handlers=[logs])
    pipelines = monitor._rt.pipelines()
    syncs = dict.fromkeys((p.kind for p in pipelines), 0)
    for pipeline in pipelines:

        def counting(real: Any = pipeline.sinks.sync, kind: str = pipeline.kind) -> None:
            syncs[kind] += 1
            real()

        monkeypatch.setattr(pipeline.sinks, "sync", counting)
    held, release = threading.Event(), threading.Event()

    def hold_every_sink_lock() -> None:  # as a service adding a handler from its own thread would
        with contextlib.ExitStack() as stack:
            for pipeline in pipelines:
                stack.enter_context(pipeline.sinks._lock)
            held.set()
            release.wait(30)

    n = 200
    recorded = threading.Event()

    def record() -> None:
        for i in range(n):
            monitor.record_metric("x", i)
            monitor.track_generation(0.1, True, model_name="m", prompt_token_count=3)
            monitor.log_info("step", step=i)
        recorded.set()

    holder, producer = threading.Thread(target=hold_every_sink_lock), threading.Thread(target=record)
    holder.start()
    try:
        assert held.wait(10)
        producer.start()
        # Not a timing bound: 600 record calls take milliseconds; 30 s only keeps a
        # record path that took a sink lock (blocked until release) from hanging the suite.
        producer.join(30)
        assert recorded.is_set()
    finally:
        release.set()
        holder.join(10)
        if producer.is_alive():
            producer.join(30)
    assert monitor.flush(10)
    assert metrics.values("x") == list(range(n))
    assert [r["step"] for r in logs.records if r["message"] == "step"] == list(range(n))
    processed = {p.kind: p.worker.processed for p in pipelines}
    assert processed["metrics"] > n and processed["logs"] >= n
    # The workers held up at the lock took the backlog as one batch after it: a few syncs, not one per record.
    assert all(count <= 4 for count in syncs.values()), (syncs, processed)
