"""Prometheus: scrape the served endpoint over HTTP and parse it with prometheus_client's own parser."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from genmon import GenerationMonitor, MonitorClosedError
from genmon.handlers.prometheus import PrometheusCollector, default_kind, sanitize_label_name, sanitize_metric_name

from .conftest import RecordingServer

VALID_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
VALID_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _scrape(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return _families(response.read().decode())


def _sample(family: Any, name: str, **labels: str) -> float:
    matches = [
        s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, (name, labels, family.samples)
    return float(matches[0])


def _record_mix(monitor: GenerationMonitor) -> None:
    monitor.record_metric("generation_time", 0.3, {"model_name": "m1", "request_id": "r1"})
    monitor.record_metric("generation_time", 2.0, {"model_name": "m2"})
    monitor.record_metric("prompt_tokens", 120, {"model_name": "m1"})
    for hit in (1, 0, 1):
        monitor.record_metric("success_rate", hit)
    monitor.record_metric("items_count", 2)
    monitor.record_metric("items_count", 3)
    monitor.record_metric("cost_usd", 0.25)
    monitor.record_metric("cost_usd", 0.5)
    monitor.record_metric("process/rss_bytes", 100)
    monitor.record_metric("process/rss_bytes", 200)


def test_served_endpoint_exposes_counters_gauges_summaries_and_histograms(tmp_path: Path) -> None:
    """serve_prometheus(0) serves every metric with the documented type, values and labels."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        server = monitor.serve_prometheus(0)
        assert server.port > 0 and server.url.endswith(f":{server.port}/metrics")
        _record_mix(monitor)
        assert monitor.flush(10)
        families = _scrape(server.url)
    hist = families["genmon_generation_time"]
    assert hist.type == "histogram"
    assert _sample(hist, "genmon_generation_time_count", model_name="m1") == 1
    assert _sample(hist, "genmon_generation_time_sum", model_name="m1") == 0.3
    assert _sample(hist, "genmon_generation_time_bucket", model_name="m1", le="0.25") == 0
    assert _sample(hist, "genmon_generation_time_bucket", model_name="m1", le="0.5") == 1
    assert _sample(hist, "genmon_generation_time_bucket", model_name="m2", le="+Inf") == 1
    assert all("request_id" not in s.labels for s in hist.samples)  # not in the label allow-list
    tokens = families["genmon_prompt_tokens"]
    assert (
        tokens.type == "histogram" and _sample(tokens, "genmon_prompt_tokens_bucket", model_name="m1", le="250.0") == 1
    )
    rate = families["genmon_success_rate"]
    assert rate.type == "summary"
    assert (_sample(rate, "genmon_success_rate_count"), _sample(rate, "genmon_success_rate_sum")) == (3, 2)
    assert families["genmon_items_count"].type == "counter"
    assert _sample(families["genmon_items_count"], "genmon_items_count_total") == 5
    assert _sample(families["genmon_cost_usd"], "genmon_cost_usd_total") == 0.75
    gauge = families["genmon_process_rss_bytes"]
    assert gauge.type == "gauge" and _sample(gauge, "genmon_process_rss_bytes") == 200


def test_the_server_is_stopped_by_close(tmp_path: Path) -> None:
    """After monitor.close() the port no longer answers and the serving thread has ended."""
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    server = monitor.serve_prometheus(0)
    _scrape(server.url)
    assert monitor.close(10)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=5)
    assert not server._thread.is_alive()
    with pytest.raises(MonitorClosedError):
        monitor.serve_prometheus(0)


def test_collector_in_metric_handlers_registers_into_a_user_registry(tmp_path: Path) -> None:
    """A collector passed as a handler counts from the first point and works in the user's own registry."""
    collector = PrometheusCollector(namespace="gen", label_keys=["model_name", "dataset split"])
    registry = CollectorRegistry()
    collector.register(registry)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[collector], metrics_interval=0) as monitor:
        monitor.record_metric("items_total", 4, {"model_name": "m", "dataset split": "train"})
        assert monitor.flush(10)
        families = _families(generate_latest(registry).decode())
        server = monitor.serve_prometheus(0)  # reuses the same collector
        assert monitor._rt.metrics.lanes[0].handler is collector and len(monitor._rt.metrics.lanes) == 1
        assert _sample(_scrape(server.url)["gen_items"], "gen_items_total", model_name="m") == 4
    assert _sample(families["gen_items"], "gen_items_total", model_name="m", dataset_split="train") == 4


def test_label_sets_are_capped_and_the_rest_fold_into_overflow(tmp_path: Path) -> None:
    """Beyond max_label_sets, points go to the __overflow__ label set and are counted."""
    collector = PrometheusCollector(max_label_sets=3)
    registry = CollectorRegistry()
    registry.register(collector)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[collector], metrics_interval=0) as monitor:
        for i in range(10):
            monitor.record_metric("latency", 1.0, {"model_name": f"model-{i}"})
        assert monitor.flush(10)
    families = _families(generate_latest(registry).decode())
    latency = families["genmon_latency"]
    label_sets = {s.labels["model_name"] for s in latency.samples if s.name == "genmon_latency_count"}
    assert label_sets == {"model-0", "model-1", "model-2", "__overflow__"}
    assert _sample(latency, "genmon_latency_count", model_name="__overflow__") == 7
    assert collector.stats()["overflowed"] == 7
    assert _sample(families["genmon_prometheus_overflowed_points"], "genmon_prometheus_overflowed_points_total") == 7


def test_kinds_and_buckets_can_be_overridden() -> None:
    """kinds= and buckets= change a metric's type and histogram bounds."""
    collector = PrometheusCollector(
        kinds={"score": "histogram", "generation_time": "gauge"}, buckets={"score": [0.5, 1]}
    )
    collector.handle_batch([("score", 0.4, 0.0, None), ("score", 0.9, 0.0, None), ("generation_time", 3.0, 0.0, None)])
    registry = CollectorRegistry()
    registry.register(collector)
    families = _families(generate_latest(registry).decode())
    assert _sample(families["genmon_score"], "genmon_score_bucket", le="0.5") == 1
    assert _sample(families["genmon_score"], "genmon_score_bucket", le="1.0") == 2
    assert families["genmon_generation_time"].type == "gauge"
    with pytest.raises(ValueError, match="kinds"):
        PrometheusCollector(kinds={"x": "meter"})


def test_push_mode_puts_the_metrics_to_a_pushgateway(tmp_path: Path, http_server: RecordingServer) -> None:
    """push_prometheus PUTs the text format to /metrics/job/<job>, on demand and once more at close."""
    gateway = f"http://127.0.0.1:{http_server.port}"
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        pusher = monitor.push_prometheus(
            gateway,
            job="gen",
            interval=None,
            grouping_key={"instance": "w1"},
            headers={"Authorization": "Bearer secret-push-token"},
        )
        monitor.record_metric("items_count", 3)
        assert monitor.flush(10)
        assert pusher.push()
        monitor.record_metric("items_count", 4)
        assert monitor.close(10)
    assert [(r.method, r.path) for r in http_server.requests] == [("PUT", "/metrics/job/gen/instance/w1")] * 2
    assert http_server.requests[0].headers["Authorization"] == "Bearer secret-push-token"
    first, final = (_families(r.body.decode()) for r in http_server.requests)
    assert _sample(first["genmon_items_count"], "genmon_items_count_total") == 3
    assert _sample(final["genmon_items_count"], "genmon_items_count_total") == 7
    assert pusher.stats() == {"pushes": 2, "failures": 0, "last_error": None}
    assert "secret-push-token" not in repr(pusher)


def test_a_dead_pushgateway_is_counted_not_raised(tmp_path: Path, closed_port: int) -> None:
    """Pushes to a closed port fail, are counted, and close() reports the failure by returning False."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        pusher = monitor.push_prometheus(f"http://127.0.0.1:{closed_port}", interval=None, timeout_s=2)
        monitor.record_metric("x", 1)
        assert pusher.push() is False
        assert monitor.close(10) is False
    assert pusher.failures == 2 and "Connection refused" in (pusher.last_error or "")


@given(st.text(max_size=30))
def test_sanitised_names_always_match_prometheus_rules(name: str) -> None:
    """Any text becomes a valid metric name and a valid, non-reserved label name."""
    assert VALID_NAME.fullmatch(sanitize_metric_name(name))
    label = sanitize_label_name(name)
    assert VALID_LABEL.fullmatch(label) and not label.startswith("__")


def test_name_mapping_examples() -> None:
    """Slashes and other characters become underscores; types follow the documented name rules."""
    assert sanitize_metric_name("process/cpu%") == "process_cpu_"
    assert sanitize_metric_name("9lives") == "_9lives"
    assert sanitize_metric_name("a:b_c") == "a:b_c"
    kinds = {
        n: default_kind(n)
        for n in (
            "generation_time",
            "prompt_token_count",
            "items_count",
            "cost_usd",
            "error_rate",
            "system/cpu_percent",
            "quality",
            "model_usage:gpt-4o",
        )
    }
    assert kinds == {
        "generation_time": "histogram",
        "prompt_token_count": "histogram",
        "items_count": "counter",
        "cost_usd": "counter",
        "error_rate": "summary",
        "system/cpu_percent": "gauge",
        "model_usage:gpt-4o": "counter",
        "quality": "gauge",
    }


def test_bad_serve_and_push_arguments_are_named_and_leave_nothing(tmp_path: Path) -> None:
    """A bad port or push interval raises naming it, before any collector lane is added."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        with pytest.raises(ValueError, match="port"):
            monitor.serve_prometheus("9464")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="interval"):
            monitor.push_prometheus("http://127.0.0.1:9", interval="5")  # type: ignore[arg-type]
        assert monitor._rt.metrics.lanes == [] and monitor._rt.services == []


def test_close_is_bounded_with_a_pushgateway_that_never_answers(tmp_path: Path) -> None:
    """A gateway that accepts connections and never replies cannot hold close() past its timeout."""
    import socket
    import threading
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the kernel; nothing ever answers
    try:
        monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
        monitor.record_metric("generation_time", 1.0)
        pusher = monitor.push_prometheus(f"http://127.0.0.1:{silent.getsockname()[1]}", interval=0.05, timeout_s=30)
        silent.settimeout(10)
        hung, _ = silent.accept()  # a periodic push is now waiting (up to 30 s) for an answer
        started = time.monotonic()
        monitor.close(timeout=1.0)
        # The margin absorbs a loaded machine, not the 30 s the push itself would allow.
        assert time.monotonic() - started < 1.0 + 3
        hung.close()  # the gateway finally hangs up: the stuck push fails and its thread ends
        for thread in threading.enumerate():
            if thread.name == "genmon-prometheus-push":
                thread.join(10)
        assert pusher.stats()["failures"] >= 1
    finally:
        silent.close()
