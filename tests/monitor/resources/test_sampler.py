"""The psutil resource sampler: process/ and system/ metrics with sane values."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import psutil
import pytest

from genmon import GenerationMonitor
from genmon.monitor.alerts.rules import ThresholdRule
from genmon.monitor.resources.sampler import ResourceSampler

Make = Callable[..., GenerationMonitor]


def burn_cpu(seconds: float) -> None:
    """Spend ``seconds`` of this process's CPU time (real work, so the sampler has something to measure)."""
    start = time.process_time()
    total = 0
    while time.process_time() - start < seconds:
        total += sum(range(1000))


def test_sample_once_records_sane_process_and_system_figures(make_monitor: Make) -> None:
    """A sample holds rss > 0, threads >= 1, memory figures in range, and lands in the store."""
    monitor = make_monitor()
    sampler = monitor.sample_resources(interval=3600)  # the thread will not sample during the test
    values = sampler.sample_once()
    assert values["process/rss_bytes"] > 0
    assert values["process/threads"] >= 1
    assert values["process/open_files"] >= 0
    assert 0 <= values["system/memory_percent"] <= 100
    assert 0 < values["system/memory_available_bytes"] <= psutil.virtual_memory().total
    assert values["system/load_average_1m"] >= 0
    for name, value in values.items():
        assert math.isfinite(value) and value >= 0, name
        assert name.startswith(("process/", "system/")), name
    monitor.sync_store()
    assert monitor.get_metrics("process/rss_bytes")["last"] == values["process/rss_bytes"]
    assert monitor.get_metrics("system/memory_percent")["count"] == 1


def test_first_cpu_sample_is_primed_and_in_range(make_monitor: Make) -> None:
    """The first sample already measures CPU since the sampler started: > 0 after real work, within bounds."""
    monitor = make_monitor()
    sampler = monitor.sample_resources(interval=3600)
    burn_cpu(0.1)
    values = sampler.sample_once()
    cpus = psutil.cpu_count() or 1
    assert 0 < values["process/cpu_percent"] <= 100 * cpus
    assert 0 < values["system/cpu_percent"] <= 100
    for rate in ("system/network_recv_bytes_per_s", "system/network_sent_bytes_per_s"):
        assert values[rate] >= 0


def test_cpu_is_left_out_over_too_short_an_interval() -> None:
    """Over an interval shorter than the minimum, CPU figures are left out rather than reported as noise."""
    sampler = ResourceSampler(lambda values: None, 3600, min_cpu_interval_s=3600)
    values = sampler.sample_once()
    assert "process/cpu_percent" not in values and "system/cpu_percent" not in values
    assert values["process/rss_bytes"] > 0


def test_alert_rules_work_on_resource_metrics(make_monitor: Make) -> None:
    """A threshold rule on a process/ metric fires from a sample."""
    monitor = make_monitor()
    monitor.add_rule(ThresholdRule("big_process", "process/rss_bytes", 1.0, statistic="last"))
    monitor.sample_resources(interval=3600).sample_once()
    assert [alert.name for alert in monitor.check_alerts(10)] == ["big_process"]


def test_the_sampler_thread_records_and_stops(make_monitor: Make) -> None:
    """The sampler thread records samples on its own and ends with stop(); close() ends it too."""
    recorded = threading.Event()
    samples: list[dict[str, float]] = []

    def record(values: dict[str, float]) -> None:
        samples.append(dict(values))
        recorded.set()

    sampler = ResourceSampler(record, interval_s=0.01).start()
    try:
        assert recorded.wait(30)
    finally:
        assert sampler.stop(10)
    assert samples and samples[0]["process/rss_bytes"] > 0
    monitor = make_monitor(sample_resources=0.5)
    assert any(t.name == "genmon-resources" for t in threading.enumerate())
    assert monitor.close(10)
    assert not any(t.name == "genmon-resources" for t in threading.enumerate())


def test_a_second_sampler_replaces_the_first(make_monitor: Make) -> None:
    """sample_resources() again stops the running sampler and returns a new one."""
    monitor = make_monitor()
    first = monitor.sample_resources(interval=3600)
    second = monitor.sample_resources(interval=3600)
    assert not first.running and second.running


def test_bad_intervals_are_refused_without_leaking_threads(tmp_path: object) -> None:
    """A non-positive interval raises ValueError, in the constructor before any thread starts."""
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ValueError):
        GenerationMonitor(log_dir=tmp_path, metrics_interval=0, sample_resources=-1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ResourceSampler(lambda values: None, 0)
    assert {t.name for t in threading.enumerate()} <= before
