"""mtaio's thresholds on genmon: resource names that fire, one warning for a silent rule, (metric, value, threshold) handlers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from genmon import Alert, GenerationMonitor
from genmon.monitor.alerts.handler_shapes import takes_values
from genmon.monitor.alerts.rules import RuleCheck
from genmon.records.resources import RESOURCE_ALIASES
from genmon.testing import ManualClock

MakeMonitor = Callable[..., GenerationMonitor]


def warnings_in_log(monitor: GenerationMonitor) -> list[dict[str, Any]]:
    monitor.close()
    records = [orjson.loads(line) for line in (monitor.log_dir / "genmon.log").read_bytes().splitlines()]
    return [r for r in records if r["level"] == "warning"]


class Calls:
    """Keeps the arguments of every call; ``reached`` is set once it holds ``until`` of them."""

    def __init__(self, until: int = 1) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.until = until
        self.reached = threading.Event()
        self._lock = threading.Lock()

    def add(self, *args: Any) -> None:
        with self._lock:
            self.calls.append(args)
            if len(self.calls) >= self.until:
                self.reached.set()


def test_a_resource_alias_fires_from_the_sampler(make_monitor: MakeMonitor) -> None:
    """set_threshold("memory_usage", 0) watches the sampler's system/memory_percent, and a real sample fires it."""
    monitor = make_monitor()
    rule = monitor.set_threshold("memory_usage", 0.0)
    assert (rule.metric, rule.fallback_metric) == ("memory_usage", "system/memory_percent")
    monitor.sample_resources(interval=3600).sample_once()
    [alert] = monitor.check_alerts(10)
    assert alert.name == "threshold:memory_usage"
    assert alert.data["metric"] == "system/memory_percent" and alert.data["alias"] == "memory_usage"
    assert 0 < alert.data["value"] <= 100


def test_every_alias_stands_for_a_sampler_metric(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """cpu_usage, memory_usage, load_average and thread_count each fire from the metric they stand for."""
    monitor = make_monitor(clock=clock)
    for alias, metric in RESOURCE_ALIASES.items():
        monitor.set_threshold(alias, 10.0)
        monitor.record_metric(metric, 50.0)
    fired = {alert.data["alias"]: alert.data["metric"] for alert in monitor.check_alerts()}
    assert fired == RESOURCE_ALIASES


def test_a_metric_recorded_under_the_alias_name_wins(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """An mtaio program that records cpu_usage itself keeps its threshold on that series, not the sampler's."""
    monitor = make_monitor(clock=clock)
    monitor.set_threshold("cpu_usage", 80.0)
    monitor.record_metric("system/cpu_percent", 5.0)
    monitor.record_metric("cpu_usage", 85.0)
    [alert] = monitor.check_alerts()
    assert alert.data["metric"] == "cpu_usage" and "alias" not in alert.data and alert.data["value"] == 85.0


def test_a_resource_name_the_sampler_does_not_record_is_refused(make_monitor: MakeMonitor) -> None:
    """A typo in the sampler's namespaces raises at set_threshold, listing the names it records and the aliases."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match=r"system/cpu_usage.*system/cpu_percent.*cpu_usage"):
        monitor.set_threshold("system/cpu_usage", 80.0)
    assert "threshold:system/cpu_usage" not in [rule.name for rule in monitor.alerts.rules.rules()]
    monitor.set_threshold("queue_depth", 10.0)  # any other name is a metric of the user's


def test_a_silent_rule_warns_once_naming_its_metric(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A threshold whose window never holds a point logs one warning naming the metric; built-in rules stay quiet."""
    monitor = make_monitor(clock=clock)
    monitor.set_threshold("cpu_usage", 80.0)
    monitor.set_threshold("judge_score", 0.5, comparison="<")
    for _ in range(3):
        assert monitor.check_alerts() == []
        clock.advance(60)
    warnings = warnings_in_log(monitor)
    assert len(warnings) == 2, warnings
    cpu, judge = sorted(warnings, key=lambda record: record["rule"])
    assert cpu["rule"] == "threshold:cpu_usage" and cpu["metric"] == "system/cpu_percent"
    assert "cpu_usage (or system/cpu_percent)" in cpu["message"] and "sample_resources" in cpu["message"]
    assert judge["metric"] == "judge_score" and "judge_score" in judge["message"]
    assert "sample_resources" not in judge["message"]


def test_mtaio_handlers_get_metric_value_and_threshold(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """(metric, value, threshold) handlers, sync and async, get mtaio's arguments beside an (alert) handler."""
    sync_calls, async_calls, alerts = Calls(), Calls(), Calls()

    def by_alert(alert: Alert) -> None:
        alerts.add(alert)

    monitor = make_monitor(clock=clock, alert_handlers=[by_alert])

    @monitor.on_threshold_exceeded
    def handle(metric: str, value: float, threshold: float) -> None:
        sync_calls.add(metric, value, threshold)

    @monitor.on_threshold_exceeded
    async def handle_async(metric: str, value: float, threshold: float) -> None:
        await asyncio.sleep(0)
        async_calls.add(metric, value, threshold)

    monitor.set_threshold("cpu_usage", 80.0)
    monitor.record_metric("system/cpu_percent", 90.0)
    monitor.check_alerts()
    assert sync_calls.calls == [("cpu_usage", 90.0, 80.0)]
    assert async_calls.calls == [("cpu_usage", 90.0, 80.0)]
    assert [a[0].name for a in alerts.calls] == ["threshold:cpu_usage"]
    assert monitor.errors.snapshot() == {}
    # Recovery: the (alert) handler hears of it, mtaio's handlers are called only when a threshold is exceeded.
    clock.advance(600)
    monitor.record_metric("system/cpu_percent", 10.0)
    monitor.check_alerts()
    assert [a[0].data["state"] for a in alerts.calls] == ["firing", "resolved"]
    assert len(sync_calls.calls) == 1 and len(async_calls.calls) == 1


def test_mtaio_handlers_filtered_by_name_and_in_the_handler_list(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A filtered (metric, value, threshold) handler and one appended to alert_handlers later are called rightly."""
    filtered, listed = Calls(), Calls()
    monitor = make_monitor(clock=clock)

    @monitor.on_threshold_exceeded("cpu_usage")
    def only_cpu(metric: str, value: float, threshold: float) -> None:
        filtered.add(metric, value, threshold)

    monitor.alert_handlers.append(lambda metric, value, threshold: listed.add(metric, value, threshold))
    monitor.set_threshold("cpu_usage", 80.0)
    monitor.set_threshold("latency", 1.0)
    monitor.record_metric("system/cpu_percent", 90.0)
    monitor.record_metric("latency", 2.0)
    monitor.check_alerts()
    assert filtered.calls == [("cpu_usage", 90.0, 80.0)]
    assert sorted(listed.calls) == [("cpu_usage", 90.0, 80.0), ("latency", 2.0, 1.0)]


def test_a_handler_that_fits_no_shape_is_refused_where_it_is_registered(
    make_monitor: MakeMonitor, clock: ManualClock, tmp_path: Any
) -> None:
    """Two required arguments fit neither shape: refused by the decorator and the constructor, counted when appended."""

    def two(metric: str, value: float) -> None:
        raise AssertionError("never called")

    monitor = make_monitor(clock=clock)
    with pytest.raises(TypeError, match=r"two\(metric, value\) must take one argument.*\(metric, value, threshold\)"):
        monitor.on_threshold_exceeded(two)
    with pytest.raises(TypeError, match="on_threshold_exceeded handler"):
        monitor.on_threshold_exceeded("cpu_usage")(two)
    with pytest.raises(TypeError, match=r"alert_handlers\[1\]"):
        GenerationMonitor(log_dir=tmp_path / "refused", metrics_interval=0, alert_handlers=[print, two])
    monitor.alert_handlers.append(two)  # a live list cannot refuse: the failure is counted under its name
    monitor.record_metric("error_rate", 1.0)
    assert [a.name for a in monitor.check_alerts()] == ["high_error_rate"]
    assert monitor.errors.snapshot() == {"two": 1}


def test_signatures_are_read_once_by_shape() -> None:
    """One positional argument means the Alert (print and *args too); three required ones mean mtaio's."""
    assert takes_values(print) is False
    assert takes_values(lambda *args: None) is False
    assert takes_values(lambda alert, extra=None: None) is False
    assert takes_values(lambda metric, value, threshold: None) is True

    class Pager:
        def __call__(self, metric: str, value: float, threshold: float) -> None: ...

    assert takes_values(Pager()) is True
    with pytest.raises(TypeError, match="must be callable"):
        takes_values("not a function")


def test_a_rule_of_your_own_with_an_empty_window_warns_without_breaking_the_pass(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A custom Rule whose check says value None and no window still gets its one warning; the other rules run."""

    class Quiet:
        name, level, cooldown_s = "quiet", "warning", None

        def check(self, store: Any, now: float, default_window_s: float) -> RuleCheck:
            return RuleCheck(False, "", "", {"value": None, "metric": "process/queue_wait"})

    monitor = make_monitor(clock=clock)
    monitor.add_rule(Quiet())
    monitor.record_metric("error_rate", 1.0)
    assert [a.name for a in monitor.check_alerts()] == ["high_error_rate"]
    monitor.check_alerts()
    [warning] = warnings_in_log(monitor)
    assert warning["rule"] == "quiet" and "process/queue_wait" in warning["message"]
    assert "no point in its window" in warning["message"] and "sample_resources" in warning["message"]
