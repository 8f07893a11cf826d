"""The periodic alert worker, isolated alert handlers and the token usage callback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from genmon import Alert, GenerationMonitor, TokenUsageReport
from genmon.testing import ManualClock

MakeMonitor = Callable[..., GenerationMonitor]


def thread_names() -> set[str]:
    return {t.name for t in threading.enumerate()}


def logged(monitor: GenerationMonitor) -> list[dict[str, Any]]:
    monitor.close()
    return [orjson.loads(line) for line in (monitor.log_dir / "genmon.log").read_bytes().splitlines()]


class Collect:
    """An alert handler that keeps alerts and sets an event once it holds ``until`` of them."""

    def __init__(self, until: int = 1) -> None:
        self.alerts: list[Alert] = []
        self.until = until
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, alert: Alert) -> None:
        with self._lock:
            self.alerts.append(alert)
            if len(self.alerts) >= self.until:
                self.reached.set()


def test_periodic_worker_fires_with_no_manual_call(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """With metrics_interval=0.05 the genmon-alerts thread evaluates the rules by itself and calls the handler."""
    sink = Collect()
    monitor = make_monitor(clock=clock, metrics_interval=0.05, alert_handlers=[sink])
    assert "genmon-alerts" in thread_names()
    monitor.record_metric("error_rate", 1.0)
    assert sink.reached.wait(10)
    assert sink.alerts[0].name == "high_error_rate"
    assert monitor.stats()["alerts"]["fired"] >= 1


def test_metrics_interval_zero_starts_no_alert_thread(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """metrics_interval <= 0 starts no alert thread, so nothing fires until check_alerts() is called."""
    sink = Collect()
    for interval in (0, -1):
        monitor = make_monitor(clock=clock, metrics_interval=interval, alert_handlers=[sink])
        monitor.record_metric("error_rate", 1.0)
        monitor.flush()
        assert not any(name.startswith("genmon-alert") for name in thread_names())
        monitor.close()
        assert sink.alerts == [] and monitor.stats()["alerts"]["fired"] == 0
    monitor = make_monitor(clock=clock, metrics_interval=0, alert_handlers=[sink])
    monitor.record_metric("error_rate", 1.0)
    assert [a.name for a in monitor.check_alerts()] == ["high_error_rate"]
    monitor.close()
    assert [a.name for a in sink.alerts] == ["high_error_rate"]


def test_handlers_get_firing_then_resolved_in_order(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """Each handler receives a rule's alerts in the order they happened: firing, reminder, resolved."""
    sink = Collect()
    monitor = make_monitor(clock=clock, alert_handlers=[sink], alert_cooldown=10, alert_window=60)
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    clock.advance(10)
    monitor.check_alerts()
    clock.advance(51)
    monitor.check_alerts()
    monitor.close()
    assert [(a.data["state"], a.data.get("notification")) for a in sink.alerts] == [
        ("firing", 1),
        ("firing", 2),
        ("resolved", None),
    ]


def test_raising_handler_is_counted_and_logged_and_others_still_receive(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A handler that raises is counted under its name and logged; the handlers after it still get the alert."""

    def explode(alert: Alert) -> None:
        raise RuntimeError("pager down")

    sink = Collect()
    monitor = make_monitor(clock=clock, alert_handlers=[explode, sink])
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    records = logged(monitor)
    assert [a.name for a in sink.alerts] == ["high_error_rate"]
    assert monitor.errors.snapshot() == {"explode": 1}
    assert any(r["level"] == "error" and "pager down" in r["message"] for r in records)


def test_hanging_handler_times_out_without_stalling_the_cadence_or_the_others(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A handler that never returns is timed out, counted and logged; the worker keeps firing and the other handler keeps receiving."""
    release = threading.Event()
    entered = threading.Event()

    def hang(alert: Alert) -> None:
        entered.set()
        release.wait()

    sink = Collect(until=5)
    monitor = make_monitor(
        clock=clock,
        metrics_interval=0.02,
        alert_cooldown=0,
        alert_handler_timeout=0.1,
        alert_handlers=[hang, sink],
    )
    try:
        monitor.record_metric("error_rate", 1.0)
        assert entered.wait(10)
        assert sink.reached.wait(10)  # five passes while hang() is stuck in its first call
        monitor.close()
        assert monitor.errors.snapshot()["hang"] >= 1
        assert monitor.stats()["alerts"]["handler_calls"]["timeouts"] >= 1
        records = [orjson.loads(line) for line in (monitor.log_dir / "genmon.log").read_bytes().splitlines()]
        assert any("hang did not return within 0.1 s" in r["message"] for r in records)
    finally:
        release.set()  # let the abandoned threads end


def test_close_is_bounded_by_its_timeout_with_a_hung_handler(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """close(timeout) returns False instead of waiting out a handler hung past it, and counts the abandoned call."""
    release = threading.Event()
    entered = threading.Event()

    def hang(alert: Alert) -> None:
        entered.set()
        release.wait()

    monitor = make_monitor(clock=clock, alert_handler_timeout=3600, alert_handlers=[hang])
    try:
        monitor.record_metric("error_rate", 1.0)
        assert monitor.sync_store(10)
        monitor.alerts.run()  # the periodic pass: it does not wait for handlers (check_alerts would, up to the timeout)
        assert entered.wait(10)
        assert monitor.close(timeout=0.5) is False
        assert monitor.errors.snapshot() == {"hang": 1}
    finally:
        release.set()


def test_a_hung_handler_delays_check_alerts_by_its_timeout_once(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """alert_handler_timeout=0.5, two alerts, a handler that never returns: one bounded wait, and none on the next pass.

    The first check_alerts() waits once for the whole pass (one deadline,
    not one per alert): alert_handler_timeout plus the documented 0.25 s for
    the timed-out call to settle, 0.75 s; the bound is 5x the timeout, room
    for a loaded machine. The second pass finds the handler still stuck and
    does not wait for it again (waiting would take that 0.75 s again; the
    bound, the timeout itself, is far above a pass that does not wait). The
    healthy handler has every alert of each pass when check_alerts() returns.
    """
    release = threading.Event()
    healthy: list[Alert] = []

    def hung(alert: Alert) -> None:
        release.wait()

    timeout_s = 0.5
    monitor = make_monitor(
        clock=clock,
        alert_cooldown=0,  # each pass sends both alerts again
        alert_max_error_rate=0.1,
        alert_min_success_rate=0.9,
        alert_handler_timeout=timeout_s,
        alert_handlers=[hung, healthy.append],
    )
    try:
        monitor.track_generation(1.0, False, error="boom")
        started = time.monotonic()
        first = monitor.check_alerts()
        first_s = time.monotonic() - started
        assert sorted(a.name for a in first) == ["high_error_rate", "low_success_rate"]
        assert healthy == first
        assert first_s < 5 * timeout_s
        assert monitor.errors.snapshot()["hung"] >= 1  # its first call timed out within the check
        healthy.clear()
        started = time.monotonic()
        second = monitor.check_alerts()
        second_s = time.monotonic() - started
        assert sorted(a.name for a in second) == ["high_error_rate", "low_success_rate"]
        assert healthy == second  # the others are still waited for
        assert second_s < timeout_s
    finally:
        release.set()  # let the abandoned threads end


def test_async_handler_receives_alerts_on_one_loop(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A coroutine function handler is awaited on its own genmon-alert-asyncio loop, the same loop for every call."""
    loops: list[asyncio.AbstractEventLoop] = []
    names: list[str] = []

    async def notify(alert: Alert) -> None:
        await asyncio.sleep(0)
        loops.append(asyncio.get_running_loop())
        names.append(alert.name)

    monitor = make_monitor(clock=clock, alert_handlers=[notify], alert_window=60)
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    clock.advance(61)
    monitor.check_alerts()
    monitor.close()
    assert names == ["high_error_rate", "high_error_rate"]
    assert loops[0] is loops[1]
    assert monitor.errors.snapshot() == {}


def test_async_handler_that_raises_or_hangs_is_counted_and_cancelled(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """An async handler that raises is counted; one that hangs is cancelled at its timeout and counted."""
    cancelled = threading.Event()

    async def failing(alert: Alert) -> None:
        raise ValueError("webhook 500")

    async def stuck(alert: Alert) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    sink = Collect()
    monitor = make_monitor(clock=clock, alert_handler_timeout=0.1, alert_handlers=[failing, stuck, sink])
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    assert cancelled.wait(10)
    monitor.close()
    assert monitor.errors.snapshot() == {"failing": 1, "stuck": 1}
    assert len(sink.alerts) == 1


def test_on_threshold_exceeded_decorator(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """@on_threshold_exceeded registers a handler for every alert; with names, only for those rules or metrics."""
    monitor = make_monitor(clock=clock)
    every: list[str] = []
    by_metric: list[str] = []
    by_rule: list[str] = []

    @monitor.on_threshold_exceeded
    def all_alerts(alert: Alert) -> None:
        every.append(alert.name)

    @monitor.on_threshold_exceeded("success_rate")
    async def success_only(alert: Alert) -> None:
        by_metric.append(alert.name)

    @monitor.on_threshold_exceeded("high_error_rate", "threshold:cpu")
    def errors_only(alert: Alert) -> None:
        by_rule.append(alert.name)

    assert all_alerts.__name__ == "all_alerts"  # the function itself is returned
    monitor.track_generation(1.0, False)
    monitor.check_alerts()
    monitor.close()
    assert sorted(every) == ["high_error_rate", "low_success_rate"]
    assert by_metric == ["low_success_rate"] and by_rule == ["high_error_rate"]


def test_handler_appended_after_construction_receives_alerts(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """Appending to monitor.alert_handlers works, as it did with afterimage."""
    monitor = make_monitor(clock=clock)
    sink = Collect()
    monitor.alert_handlers.append(sink)
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    monitor.close()
    assert len(sink.alerts) == 1


def test_token_usage_callback_is_called_periodically(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """token_usage_callback receives the TokenUsageReport every interval on its own thread, without a manual call."""
    reports: list[TokenUsageReport] = []
    got = threading.Event()

    def on_tokens(report: TokenUsageReport) -> None:
        reports.append(report)
        if report.total_tokens:
            got.set()

    monitor = make_monitor(clock=clock, token_usage_callback=on_tokens, token_usage_callback_interval_seconds=0.02)
    assert "genmon-token-usage" in thread_names()
    monitor.track_generation(
        1.0, True, model_name="m1", prompt_token_count=10, completion_token_count=5, total_token_count=15
    )
    assert got.wait(10)
    report = next(r for r in reports if r.total_tokens)
    assert (report.total_prompt_tokens, report.total_completion_tokens, report.total_tokens) == (10, 5, 15)
    assert report.by_model[0].model_name == "m1"


def test_raising_token_usage_callback_is_isolated(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A token_usage_callback that raises is counted under its name and keeps being called."""
    calls = threading.Semaphore(0)

    def broken_tokens(report: TokenUsageReport) -> None:
        calls.release()
        raise RuntimeError("billing API down")

    monitor = make_monitor(clock=clock, token_usage_callback=broken_tokens, token_usage_callback_interval_seconds=0.02)
    assert calls.acquire(timeout=10) and calls.acquire(timeout=10)
    monitor.close()
    assert monitor.errors.snapshot()["broken_tokens"] >= 2


def test_hanging_token_usage_callback_is_timed_out_and_leaves_alerts_working(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A token_usage_callback that hangs is counted as a timeout; alerts still fire and close stays bounded."""
    entered, release = threading.Event(), threading.Event()
    received: list[Alert] = []

    def stuck_tokens(report: TokenUsageReport) -> None:
        entered.set()
        release.wait(30)

    monitor = make_monitor(
        clock=clock,
        token_usage_callback=stuck_tokens,
        token_usage_callback_interval_seconds=0.02,
        alert_handler_timeout=0.1,
        alert_handlers=[received.append],
        shutdown_timeout=1.0,
    )
    try:
        assert entered.wait(10)
        monitor.record_metric("error_rate", 1.0)
        assert [a.name for a in monitor.check_alerts()] == ["high_error_rate"]
        started = time.monotonic()
        monitor.close()
        assert time.monotonic() - started < 1.0 + 3  # bounded by shutdown_timeout, not by the hung callback
        assert monitor.errors.snapshot()["stuck_tokens"] >= 1
        assert [a.name for a in received] == ["high_error_rate"]
    finally:
        release.set()


def test_threads_are_named_daemons_and_end_at_close(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """The alert, token, watchdog and handler lane threads are genmon-* daemons, all gone after close()."""

    called = threading.Event()

    async def notify(alert: Alert) -> None:
        called.set()

    monitor = make_monitor(clock=clock, metrics_interval=3600, token_usage_callback=print, alert_handlers=[notify])
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    assert called.wait(10)
    ours = {"genmon-alerts", "genmon-token-usage", "genmon-alert-watchdog", "genmon-alert-notify"}
    threads = {t.name: t for t in threading.enumerate() if t.name in ours}
    assert set(threads) == ours and all(t.daemon for t in threads.values())
    assert monitor.close() is True
    assert not any(t.is_alive() for t in threads.values())


def test_alert_data_is_json_in_the_log_with_the_alert_name(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """The log record of an alert carries the alert name and its data as JSON."""
    monitor = make_monitor(clock=clock)
    monitor.record_metric("conversation_length", 7)
    monitor.check_alerts()
    [record] = [r for r in logged(monitor) if r.get("alert")]
    assert record["alert"] == "long_conversations" and record["level"] == "warning"
    assert record["message"] == "Average conversation length: 7.0 turns"
    assert {"statistic", "threshold", "window_seconds", "sample_count", "metric", "state"} <= set(record["data"])


def test_an_async_handler_that_blocks_its_loop_does_not_delay_the_others(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """Each async handler has its own loop: one blocking inside `async def` leaves the others on time."""
    release = threading.Event()
    delivered = threading.Event()

    async def blocking(alert: Alert) -> None:
        release.wait(30)  # a sync call inside async def: it blocks its event loop

    async def prompt(alert: Alert) -> None:
        delivered.set()

    monitor = make_monitor(clock=clock, alert_handler_timeout=1.0, alert_handlers=[blocking, prompt])
    try:
        monitor.record_metric("error_rate", 1.0)
        monitor.check_alerts()  # returns once prompt returned, at most the handler timeout later
        assert delivered.is_set()
        assert "prompt" not in monitor.errors.snapshot()
    finally:
        release.set()
