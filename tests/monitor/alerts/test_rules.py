"""Alert rules over rolling windows: built-in rules, custom rules, cooldown and resolve."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import Alert, GenerationMonitor
from genmon.monitor.alerts.rules import NoDataRule, RuleCheck, ThresholdRule, builtin_rules
from genmon.monitor.alerts.state import AlertRules
from genmon.monitor.store.metric_store import MetricStore
from genmon.testing import ManualClock

MakeMonitor = Callable[..., GenerationMonitor]
WINDOW = 300.0

# name, metric, threshold, value at the threshold's edge short of firing, value just past it, message, level
BUILTINS = [
    ("low_success_rate", "success_rate", 0.8, 0.8 + 1e-6, 0.79, "Success rate dropped to 79.0%", "warning"),
    (
        "high_generation_time",
        "generation_time",
        30.0,
        30.0 - 1e-6,
        30.000001,
        "Average generation time: 30.0s",
        "warning",
    ),
    ("high_error_rate", "error_rate", 0.2, 0.2 - 1e-6, 0.2 + 1e-6, "Error rate increased to 20.0%", "error"),
    ("high_token_usage:prompt", "prompt_token_count", 4096, 4095, 4097, "Average token usage: 4097", "warning"),
    ("high_token_usage:completion", "completion_token_count", 4096, 4095, 4097, "Average token usage: 4097", "warning"),
    ("high_token_usage:total", "total_token_count", 8192, 8191, 8193, "Average token usage: 8193", "warning"),
    ("long_conversations", "conversation_length", 2, 1.999, 2.5, "Average conversation length: 2.5 turns", "warning"),
]


def log_records(monitor: GenerationMonitor) -> list[dict[str, Any]]:
    monitor.close()
    lines = (monitor.log_dir / "genmon.log").read_bytes().splitlines()
    return [orjson.loads(line) for line in lines]


@pytest.mark.parametrize(("name", "metric", "threshold", "short", "past", "message", "level"), BUILTINS)
def test_builtin_rule_fires_just_past_its_threshold_only(
    make_monitor: MakeMonitor,
    clock: ManualClock,
    name: str,
    metric: str,
    threshold: float,
    short: float,
    past: float,
    message: str,
    level: str,
) -> None:
    """Each built-in rule stays quiet at its threshold and just short of it, and fires just past it with afterimage's name, level and message."""
    monitor = make_monitor(clock=clock)
    for quiet in (threshold, short):
        monitor.record_metric(metric, quiet)
        assert monitor.check_alerts() == []
        clock.advance(WINDOW + 1)  # the next point is alone in its window
    monitor.record_metric(metric, past)
    [alert] = monitor.check_alerts()
    assert (alert.name, alert.level, alert.message) == (name, level, message)
    assert alert.timestamp == datetime.fromtimestamp(clock())
    assert alert.data["metric"] == metric and alert.data["statistic"] == "mean"
    assert alert.data["threshold"] == threshold and alert.data["value"] == alert.data["mean"] == past
    assert alert.data["window_seconds"] == WINDOW and alert.data["sample_count"] == alert.data["count"] == 1
    assert alert.data["state"] == "firing"


def test_constructor_thresholds_drive_the_builtin_rules(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """afterimage's alert_* keywords replace the default thresholds."""
    monitor = make_monitor(clock=clock, alert_max_generation_time_seconds=5, alert_min_success_rate=0.99)
    monitor.track_generation(6.0, True)
    for _ in range(49):
        monitor.track_generation(1.0, True)
    monitor.track_generation(1.0, False)
    fired = {a.name: a for a in monitor.check_alerts()}
    assert set(fired) == {"low_success_rate"}  # 50/51 succeeded; generation_time mean is 1.1 s
    assert fired["low_success_rate"].data["threshold"] == 0.99
    clock.advance(WINDOW + 1)
    monitor.track_generation(6.0, True)
    assert {a.name for a in monitor.check_alerts() if a.data["state"] == "firing"} == {"high_generation_time"}


def test_track_generation_failures_fire_low_success_rate_and_high_error_rate(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """One failure in four generations gives a 75% success rate and a 25% error rate: both built-ins fire."""
    monitor = make_monitor(clock=clock)
    for success in (True, True, True, False):
        monitor.track_generation(1.0, success, prompt_token_count=100)
    fired = {a.name: a.message for a in monitor.check_alerts()}
    assert fired == {
        "low_success_rate": "Success rate dropped to 75.0%",
        "high_error_rate": "Error rate increased to 25.0%",
    }


def test_alert_window_keyword_sets_the_window(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """With alert_window=60 s a point 61 s old no longer counts, one 60 s old still does."""
    monitor = make_monitor(clock=clock, alert_window=timedelta(seconds=60))
    monitor.record_metric("generation_time", 100.0)
    clock.advance(60)
    [alert] = monitor.check_alerts()
    assert alert.data["window_seconds"] == 60.0
    clock.advance(1)
    [resolved] = monitor.check_alerts()
    assert resolved.data["state"] == "resolved" and resolved.data["sample_count"] == 0


def test_fires_once_then_reminds_after_the_cooldown(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A rule that keeps holding fires once, is silent during the cooldown, and reminds when it has passed."""
    monitor = make_monitor(clock=clock, alert_window=3600, alert_cooldown=timedelta(minutes=5))
    monitor.record_metric("error_rate", 1.0)
    [first] = monitor.check_alerts()
    assert first.data["notification"] == 1
    clock.advance(299)
    assert monitor.check_alerts() == []
    clock.advance(1)
    [reminder] = monitor.check_alerts()
    assert reminder.name == "high_error_rate" and reminder.data["state"] == "firing"
    assert reminder.data["notification"] == 2 and reminder.data["firing_since"] == first.data["firing_since"]
    assert monitor.check_alerts() == []


def test_zero_cooldown_fires_on_every_pass_like_afterimage(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """alert_cooldown=0 repeats the alert on every pass while the rule holds."""
    monitor = make_monitor(clock=clock, alert_cooldown=0)
    monitor.record_metric("error_rate", 1.0)
    assert [len(monitor.check_alerts()) for _ in range(3)] == [1, 1, 1]


def test_resolved_alert_when_the_rule_stops_holding(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """When the mean falls back, one info alert with state resolved is sent, then nothing; a relapse fires anew."""
    monitor = make_monitor(clock=clock, alert_window=60)
    monitor.record_metric("generation_time", 45.0)
    assert [a.name for a in monitor.check_alerts()] == ["high_generation_time"]
    clock.advance(10)
    for _ in range(9):
        monitor.record_metric("generation_time", 1.0)
    [resolved] = monitor.check_alerts()
    assert (resolved.name, resolved.level) == ("high_generation_time", "info")
    assert resolved.message == "Average generation time back to 5.4s"
    assert resolved.data["state"] == "resolved" and resolved.data["firing_seconds"] == 10.0
    assert monitor.check_alerts() == []
    monitor.record_metric("generation_time", 500.0)
    [again] = monitor.check_alerts()
    assert again.data["state"] == "firing" and again.data["notification"] == 1


def test_every_alert_is_logged_and_counted(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """Firing and resolved alerts reach genmon.log with their level, message and data, and stats() counts them."""
    monitor = make_monitor(clock=clock, alert_window=60)
    monitor.record_metric("error_rate", 1.0)
    monitor.check_alerts()
    clock.advance(61)
    monitor.check_alerts()
    stats = monitor.stats()["alerts"]
    assert (stats["fired"], stats["resolved"], stats["firing"]) == (1, 1, [])
    assert stats["by_name"] == {"high_error_rate": {"fired": 1, "resolved": 1}}
    records = [r for r in log_records(monitor) if r.get("alert") == "high_error_rate"]
    assert [(r["level"], r["data"]["state"]) for r in records] == [("error", "firing"), ("info", "resolved")]
    assert records[0]["message"] == "Error rate increased to 100.0%"
    assert records[0]["data"]["threshold"] == 0.2 and records[0]["data"]["sample_count"] == 1


@pytest.mark.parametrize(
    ("statistic", "comparison", "threshold", "fires"),
    [
        ("p95", ">", 90.0, True),
        ("p50", ">", 90.0, False),
        ("max", ">=", 100.0, True),
        ("min", "<", 1.0, False),
        ("min", "<=", 1.0, True),
        ("sum", ">", 5049.0, True),
        ("count", ">=", 100, True),
        ("last", "<", 100.0, False),
        ("p99", ">", 99.0, True),  # p99 of 1..100 is 99.01
        ("p99", ">", 99.5, False),  # ...and not the max
        ("std", ">", 28.0, True),
        ("rate", ">", 1.0, True),  # 100 points in 60 s
        ("rate", ">", 2.0, False),
    ],
)
def test_custom_rule_on_any_statistic(
    make_monitor: MakeMonitor, clock: ManualClock, statistic: str, comparison: str, threshold: float, fires: bool
) -> None:
    """A ThresholdRule compares the chosen window statistic (rate is points per second) to its threshold."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(ThresholdRule("latency_rule", "latency", threshold, comparison, statistic, window=60))
    monitor.record_metrics({"latency": 0.0})  # outside the window below
    clock.advance(100)
    for i in range(1, 101):
        monitor.record_metric("latency", float(i))
    alerts = monitor.check_alerts()
    assert [a.name for a in alerts] == (["latency_rule"] if fires else [])
    if fires:
        assert alerts[0].data["statistic"] == statistic and alerts[0].data["sample_count"] == 100


def test_last_is_the_newest_point_not_an_extreme_or_a_middle(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """Over 5, 1, 2, 9, 4, 3 only `last` (3) is both <= 3 and >= 3: min is 1, p50 3.5, mean 4, max 9."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(ThresholdRule("last_low", "queue", 3.0, "<=", "last", window=60))
    monitor.add_rule(ThresholdRule("last_high", "queue", 3.0, ">=", "last", window=60))
    for value in (5, 1, 2, 9, 4, 3):
        monitor.record_metric("queue", float(value))
        clock.advance(1)
    assert sorted(a.name for a in monitor.check_alerts()) == ["last_high", "last_low"]


def test_min_samples_holds_a_rule_back(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A rule with min_samples=3 fires only once its window holds three points."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(
        ThresholdRule(
            "slow", "latency", 1.0, min_samples=3, message="{metric} at {value:.1f} over {sample_count} points"
        )
    )
    monitor.record_metric("latency", 5.0)
    monitor.record_metric("latency", 5.0)
    assert monitor.check_alerts() == []
    monitor.record_metric("latency", 5.0)
    [alert] = monitor.check_alerts()
    assert alert.message == "latency at 5.0 over 3 points" and alert.data["min_samples"] == 3


def test_count_rule_fires_on_an_empty_window(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """count, sum and rate are zero on an empty window, so a 'count < 1' rule catches silence."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(ThresholdRule("quiet", "generation_time", 1, "<", "count", window=60, level="error"))
    [alert] = monitor.check_alerts()
    assert alert.level == "error" and alert.data["value"] == 0.0 and alert.data["sample_count"] == 0


def test_rule_cooldown_overrides_the_monitor_cooldown(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A rule's own cooldown wins over alert_cooldown."""
    monitor = make_monitor(clock=clock, alert_cooldown=3600, alert_window=3600)
    monitor.add_rule(ThresholdRule("hot", "temp", 50, cooldown=10))
    monitor.record_metric("temp", 60)
    assert [a.name for a in monitor.check_alerts()] == ["hot"]
    clock.advance(10)
    assert [a.name for a in monitor.check_alerts()] == ["hot"]


def test_add_rule_with_a_builtin_name_replaces_it(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """Adding a rule named like a built-in replaces it (here: alert on the p95 generation time)."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(ThresholdRule("high_generation_time", "generation_time", 10.0, statistic="p95"))
    assert [r.name for r in monitor.alerts.rules.rules()].count("high_generation_time") == 1
    for value in [1.0] * 90 + [20.0] * 10:
        monitor.record_metric("generation_time", value)
    [alert] = monitor.check_alerts()
    assert alert.name == "high_generation_time" and alert.data["statistic"] == "p95"


def test_set_threshold_mtaio_style(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """set_threshold(metric, value) alerts when the metric's mean exceeds value; setting it again replaces it."""
    monitor = make_monitor(clock=clock)
    rule = monitor.set_threshold("cpu_usage", 80.0)
    assert (rule.name, rule.comparison, rule.statistic) == ("threshold:cpu_usage", ">", "mean")
    monitor.record_metric("cpu_usage", 85.0)
    [alert] = monitor.check_alerts()
    assert alert.name == "threshold:cpu_usage" and alert.message == "cpu_usage mean 85 > 80 over the last 300 s"
    monitor.set_threshold("cpu_usage", 90.0, statistic="max", level="error")
    assert monitor.check_alerts() == []  # replaced: its state was reset and 85 < 90
    assert [r.name for r in monitor.alerts.rules.rules()].count("threshold:cpu_usage") == 1


def test_no_data_rule_fires_when_a_metric_goes_silent(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """NoDataRule ignores a metric never recorded, fires once it stops for a window, and resolves when it resumes."""
    monitor = make_monitor(clock=clock)
    monitor.add_rule(NoDataRule("stalled", "generation_time", window=120))
    assert monitor.check_alerts() == []
    monitor.record_metric("generation_time", 1.0)
    clock.advance(121)
    [alert] = monitor.check_alerts()
    assert alert.message == "No generation_time points in the last 120 s"
    monitor.record_metric("generation_time", 1.0)
    [resolved] = monitor.check_alerts()
    assert resolved.data["state"] == "resolved" and resolved.level == "info"


def test_a_raising_rule_is_counted_and_the_others_still_run(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """A rule whose check raises is counted under rule:<name>; the built-in rules still fire."""

    class Broken:
        name, level, cooldown_s = "broken", "warning", None

        def check(self, store: MetricStore, now: float, default_window_s: float) -> RuleCheck:
            raise ZeroDivisionError("bug in a custom rule")

    monitor = make_monitor(clock=clock)
    monitor.add_rule(Broken())
    monitor.record_metric("error_rate", 1.0)
    assert [a.name for a in monitor.check_alerts()] == ["high_error_rate"]
    assert monitor.errors.snapshot() == {"rule:broken": 1}
    assert any("bug in a custom rule" in r["message"] for r in log_records(monitor))


def test_invalid_rules_are_refused() -> None:
    """Unknown statistics, comparisons, levels, template fields, negative windows and non-numbers fail at once."""
    with pytest.raises(ValueError, match="statistic"):
        ThresholdRule("r", "m", 1.0, statistic="median")
    with pytest.raises(ValueError, match="comparison"):
        ThresholdRule("r", "m", 1.0, "==")
    with pytest.raises(ValueError, match="level"):
        ThresholdRule("r", "m", 1.0, level="fatal")
    with pytest.raises(KeyError):
        ThresholdRule("r", "m", 1.0, message="{nope}")
    with pytest.raises(ValueError, match="window"):
        ThresholdRule("r", "m", 1.0, window=-5)
    with pytest.raises(TypeError, match="threshold"):
        ThresholdRule("r", "m", "high")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        ThresholdRule("", "m", 1.0)
    with pytest.raises(TypeError, match="rule"):
        AlertRules(60, 60).add(object())  # type: ignore[arg-type]


def test_bad_alert_keywords_fail_before_any_thread_starts(tmp_path: Path) -> None:
    """A zero alert_window or a negative cooldown raises from the constructor and leaves no thread behind."""
    with pytest.raises(ValueError, match="alert_window"):
        GenerationMonitor(log_dir=tmp_path, alert_window=0)
    with pytest.raises(ValueError, match="alert_cooldown"):
        GenerationMonitor(log_dir=tmp_path, alert_cooldown=-1)
    with pytest.raises(ValueError, match="timeout"):
        GenerationMonitor(log_dir=tmp_path, alert_handler_timeout=0)
    with pytest.raises(ValueError, match="alert_handler_timeout"):
        GenerationMonitor(log_dir=tmp_path, alert_handler_timeout=float("inf"))


def test_builtin_rules_table() -> None:
    """builtin_rules lists afterimage's seven rules in its order, all on the window mean."""
    rules = builtin_rules({"alert_max_error_rate": 0.5})
    assert [r.name for r in rules] == [b[0] for b in BUILTINS]
    assert all(r.statistic == "mean" for r in rules)
    assert {r.name: r.threshold for r in rules}["high_error_rate"] == 0.5


def test_rules_engine_with_a_store_and_no_monitor() -> None:
    """AlertRules works on a bare MetricStore: evaluate returns the alerts and calls emit with each."""
    store = MetricStore()
    store.append_batch([("latency", 3.0, 100.0, None)])
    rules = AlertRules(window_s=60, cooldown_s=0)
    rules.add(ThresholdRule("slow", "latency", 2.0))
    emitted: list[Alert] = []
    alerts = rules.evaluate(store, 130.0, emitted.append)
    assert alerts == emitted and [a.name for a in alerts] == ["slow"]
    assert rules.firing() == ["slow"]
    assert rules.remove("slow") and not rules.remove("slow")
    assert rules.evaluate(store, 130.0) == []
