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
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from genmon import GenerationMonitor, MonitorClosedError
from genmon.handlers.prometheus import PrometheusCollector, default_kind, sanitize_label_name, sanitize_metric_name

from .conftest import RecordingServer

VALID_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALID_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def _families(text: str, openmetrics: bool = False) -> dict[str, Any]:
    parse = openmetrics_families if openmetrics else text_string_to_metric_families
    return {f.name: f for f in parse(text)}


def _scrape(url: str, accept: str | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return _families(response.read().decode(), openmetrics=accept is not None)


def _sample(family: Any, name: str, **labels: str) -> float:
    matches = [
        s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, (name, labels, family.samples)
    return float(matches[0])


def _record_mix(monitor: GenerationMonitor) -> None:
    gpt = {"model_name": "gpt-4o", "operation": "chat", "request_id": "r1"}
    monitor.track_generation(0.3, True, **gpt, finish_reason="stop", prompt_token_count=120, completion_token_count=30)
    monitor.track_generation(2.0, False, model_name="m2", total_token_count=50)
    monitor.record_metric("cost_usd", 0.25, {"model_name": "gpt-4o"})
    monitor.record_metric("cost_usd", 0.5, {"model_name": "gpt-4o"})
    monitor.record_metric("items_count", 2)
    monitor.record_metric("items_count", 3)
    monitor.record_metric("evaluation_time", 0.04)
    monitor.record_metric("judge_error_rate", 1)
    monitor.record_metric("judge_error_rate", 0)
    monitor.record_metric("process/rss_bytes", 100)
    monitor.record_metric("process/rss_bytes", 200)


def test_served_endpoint_exposes_llm_families_and_other_metrics_by_name(tmp_path: Path) -> None:
    """serve_prometheus(0) serves calls, latency, tokens and cost as labelled LLM families and other metrics by name."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        server = monitor.serve_prometheus(0)
        assert server.port > 0 and server.url.endswith(f":{server.port}/metrics")
        _record_mix(monitor)
        assert monitor.flush(10)
        families = _scrape(server.url)
    calls = families["genmon_llm_calls"]
    assert calls.type == "counter"
    assert _sample(calls, "genmon_llm_calls_total", model="gpt-4o", outcome="success", finish_reason="stop") == 1
    assert _sample(calls, "genmon_llm_calls_total", model="m2", outcome="error", operation="") == 1
    hist = families["genmon_llm_operation_duration_seconds"]
    assert hist.type == "histogram"
    assert _sample(hist, "genmon_llm_operation_duration_seconds_count", model="gpt-4o") == 1
    assert _sample(hist, "genmon_llm_operation_duration_seconds_sum", model="gpt-4o") == 0.3
    assert _sample(hist, "genmon_llm_operation_duration_seconds_bucket", model="gpt-4o", le="0.25") == 0
    assert _sample(hist, "genmon_llm_operation_duration_seconds_bucket", model="gpt-4o", le="0.5") == 1
    assert _sample(hist, "genmon_llm_operation_duration_seconds_bucket", model="m2", le="+Inf") == 1
    assert all("request_id" not in s.labels for s in hist.samples)  # not in the label allow-list
    tokens = families["genmon_llm_token_usage"]
    assert _sample(tokens, "genmon_llm_token_usage_total", model="gpt-4o", token_type="input") == 120
    assert _sample(tokens, "genmon_llm_token_usage_total", model="gpt-4o", token_type="output") == 30
    assert len(tokens.samples) == 2  # total_token_count is input + output: not a third series
    assert _sample(families["genmon_llm_cost_usd"], "genmon_llm_cost_usd_total", model="gpt-4o") == 0.75
    assert _sample(families["genmon_items_count"], "genmon_items_count_total") == 5
    evaluation = families["genmon_evaluation_time_seconds"]
    assert evaluation.type == "histogram" and _sample(evaluation, "genmon_evaluation_time_seconds_count") == 1
    rate = families["genmon_judge_error_rate"]
    assert rate.type == "summary"
    assert (_sample(rate, "genmon_judge_error_rate_count"), _sample(rate, "genmon_judge_error_rate_sum")) == (2, 1)
    gauge = families["genmon_process_rss_bytes"]
    assert gauge.type == "gauge" and _sample(gauge, "genmon_process_rss_bytes") == 200
    # Nothing per model or per finish reason in a name, and no rate that duplicates the outcome label.
    names = {s.name for f in families.values() for s in f.samples}
    assert not [
        n for n in names if ":" in n or "gpt" in n or "stop" in n or n.startswith(("genmon_success", "genmon_error"))
    ]


def test_text_and_openmetrics_expose_the_same_series(tmp_path: Path) -> None:
    """The endpoint answers OpenMetrics when asked (as Prometheus does) with the same names, labels and values as text."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        server = monitor.serve_prometheus(0)
        _record_mix(monitor)
        assert monitor.flush(10)
        text, openmetrics = _scrape(server.url), _scrape(server.url, OPENMETRICS)

    def series(families: dict[str, Any]) -> set[tuple[str, str, frozenset[tuple[str, str]], float]]:
        return {(f.name, f.type, frozenset(s.labels.items()), s.value) for f in families.values() for s in f.samples}

    assert series(text) == series(openmetrics) and len(series(text)) > 40
    assert openmetrics["genmon_llm_operation_duration_seconds"].unit == "seconds"  # # UNIT: OpenMetrics only
    assert openmetrics["genmon_process_rss_bytes"].unit == "bytes"


def test_tracked_calls_carry_span_type_and_error_type_labels(tmp_path: Path) -> None:
    """monitor.track calls are labelled by span type, and a failed one by its exception's class."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0, prices={"gpt-4o": (0.01, 0.03)}) as monitor:
        server = monitor.serve_prometheus(0)
        with monitor.track("retrieve", span_type="TOOL"):
            pass
        with monitor.track("chat", model_name="gpt-4o") as span:
            span.set_usage(prompt_tokens=1000, completion_tokens=1000)
        with pytest.raises(TimeoutError), monitor.track("chat", model_name="gpt-4o"):
            raise TimeoutError("slow")
        assert monitor.flush(10)
        families = _scrape(server.url)
    calls = families["genmon_llm_calls"]
    assert _sample(calls, "genmon_llm_calls_total", operation="retrieve", span_type="TOOL", outcome="success") == 1
    assert _sample(calls, "genmon_llm_calls_total", span_type="LLM", outcome="success") == 1
    failed = _sample(calls, "genmon_llm_calls_total", span_type="LLM", outcome="error", error_type="TimeoutError")
    assert failed == 1
    cost = families["genmon_llm_cost_usd"]
    assert _sample(cost, "genmon_llm_cost_usd_total", model="gpt-4o", span_type="LLM") == pytest.approx(0.04)


def _nested_calls(monitor: GenerationMonitor) -> None:
    """A CHAIN wrapper around two model calls (the second failed) and a tool call: four tracked calls, two of them LLM."""
    with monitor.track("generate_conversation", span_type="CHAIN"):
        with monitor.track("chat", model_name="gpt-4o") as span:
            span.set_usage(prompt_tokens=100, completion_tokens=20)
        with pytest.raises(TimeoutError), monitor.track("chat", model_name="gpt-4o"):
            raise TimeoutError("slow")
        with monitor.track("search", span_type="TOOL"):
            pass


def test_nested_model_calls_are_the_llm_series_and_their_wrapper_is_not(tmp_path: Path) -> None:
    """Under a CHAIN wrapper, {span_type="LLM"} selects exactly the two model calls; the wrapper has its own series."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        server = monitor.serve_prometheus(0)
        _nested_calls(monitor)
        assert monitor.flush(10)
        families = _scrape(server.url, OPENMETRICS)  # what Prometheus asks for

    def by_span_type(family: str, sample: str) -> dict[str, float]:
        totals: dict[str, float] = {}
        for s in families[family].samples:
            if s.name == sample:
                totals[s.labels["span_type"]] = totals.get(s.labels["span_type"], 0.0) + s.value
        return totals

    assert by_span_type("genmon_llm_calls", "genmon_llm_calls_total") == {"LLM": 2, "CHAIN": 1, "TOOL": 1}
    calls = families["genmon_llm_calls"]
    llm = [s for s in calls.samples if s.labels["span_type"] == "LLM"]
    assert {(s.labels["operation"], s.labels["model"], s.labels["outcome"], s.value) for s in llm} == {
        ("chat", "gpt-4o", "success", 1),
        ("chat", "gpt-4o", "error", 1),
    }
    wrapper = _sample(calls, "genmon_llm_calls_total", span_type="CHAIN")
    assert wrapper == 1 and _sample(calls, "genmon_llm_calls_total", operation="generate_conversation") == 1
    duration = "genmon_llm_operation_duration_seconds"
    assert by_span_type(duration, f"{duration}_count") == {"LLM": 2, "CHAIN": 1, "TOOL": 1}
    # Tokens only where the model calls were: the wrapper adds none of its own.
    assert by_span_type("genmon_llm_token_usage", "genmon_llm_token_usage_total") == {"LLM": 120}


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
        assert _sample(_scrape(server.url)["gen_items"], "gen_items_total", model="m") == 4
    assert _sample(families["gen_items"], "gen_items_total", model="m", dataset_split="train") == 4


def test_label_keys_name_labels_and_refuse_the_ones_genmon_sets() -> None:
    """A label_keys mapping names each label; labels that clash or that genmon and Prometheus own are refused."""
    collector = PrometheusCollector(label_keys={"model_name": "llm", "dataset": "dataset"})
    collector.handle_batch([("success_rate", 1.0, 0.0, {"model_name": "m", "dataset": "d", "finish_reason": "stop"})])
    families = _families(generate_latest(_registry(collector)).decode())
    calls = families["genmon_llm_calls"]
    assert calls.samples[0].labels == {
        "llm": "m",
        "dataset": "d",
        "finish_reason": "stop",
        "error_type": "",
        "outcome": "success",
    }
    for bad in (["outcome"], ["le"], {"x": "token_type"}, ["a b", "a_b"]):
        with pytest.raises(ValueError, match="label"):
            PrometheusCollector(label_keys=bad)


def _registry(collector: PrometheusCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_label_sets_are_capped_and_the_rest_fold_into_overflow(tmp_path: Path) -> None:
    """Beyond max_label_sets, points go to the __overflow__ label set (keeping outcome) and are counted."""
    collector = PrometheusCollector(max_label_sets=3)
    registry = _registry(collector)
    with GenerationMonitor(log_dir=tmp_path, metric_handlers=[collector], metrics_interval=0) as monitor:
        for i in range(10):
            monitor.record_metric("latency", 1.0, {"model_name": f"model-{i}"})
            monitor.track_generation(1.0, i % 2 == 0, model_name=f"model-{i}")
        assert monitor.flush(10)
    families = _families(generate_latest(registry).decode())
    latency = families["genmon_latency_seconds"]
    label_sets = {s.labels["model"] for s in latency.samples if s.name == "genmon_latency_seconds_count"}
    assert label_sets == {"model-0", "model-1", "model-2", "__overflow__"}
    assert _sample(latency, "genmon_latency_seconds_count", model="__overflow__") == 7
    calls = families["genmon_llm_calls"]
    assert _sample(calls, "genmon_llm_calls_total", model="__overflow__", outcome="success") == 3  # 4, 6, 8
    assert _sample(calls, "genmon_llm_calls_total", model="__overflow__", outcome="error") == 4  # 3, 5, 7, 9
    assert collector.stats()["overflowed"] == 7 * 3  # latency, calls and call durations
    overflowed = families["genmon_prometheus_overflowed_points"]
    assert _sample(overflowed, "genmon_prometheus_overflowed_points_total") == 21


def test_ten_thousand_models_make_no_new_family() -> None:
    """Calls to 10,000 models stay in the same four families, each within max_label_sets plus overflow."""
    collector = PrometheusCollector()
    for i in range(10_000):
        meta = {"model_name": f"model-{i}", "finish_reason": "stop"}
        points = [("generation_time", 0.5, 0.0, meta), ("success_rate", 1.0, 0.0, meta)]
        points += [("error_rate", 0.0, 0.0, meta), (f"model_usage:model-{i}", 1.0, 0.0, meta)]
        points += [("finish_reason:stop", 1.0, 0.0, meta), ("prompt_token_count", 10, 0.0, meta)]
        points += [("total_token_count", 10, 0.0, meta), ("cost_usd", 0.001, 0.0, meta)]
        collector.handle_batch(points)
    stats = collector.stats()
    assert stats["label_sets"] == {
        "genmon_llm_operation_duration_seconds": 101,
        "genmon_llm_calls_total": 101,
        "genmon_llm_token_usage_total": 101,
        "genmon_llm_cost_usd_total": 101,
    }
    assert stats["skipped"] == 4 * 10_000 and stats["overflowed"] == 4 * 9_900
    families = _families(generate_latest(_registry(collector)).decode())
    # 101 histograms (15 buckets, +Inf, count, sum), 101 label sets of 3 counters, the overflow counter:
    # a scrape as big as for 101 models (the job wrote 10,000 families, 2.5 MB).
    assert sum(len(f.samples) for f in families.values()) == 101 * 18 + 3 * 101 + 1


def test_kinds_and_buckets_can_be_overridden() -> None:
    """kinds= and buckets= change a metric's type and histogram bounds; kinds= takes a name out of the LLM families."""
    collector = PrometheusCollector(
        kinds={"score": "histogram", "generation_time": "gauge"},
        buckets={"score": [0.5, 1], "time_to_first_token": [0.1, 1]},
    )
    collector.handle_batch([("score", 0.4, 0.0, None), ("score", 0.9, 0.0, None), ("generation_time", 3.0, 0.0, None)])
    collector.handle_batch([("time_to_first_token", 0.05, 0.0, None)])
    families = _families(generate_latest(_registry(collector)).decode())
    assert _sample(families["genmon_score"], "genmon_score_bucket", le="0.5") == 1
    assert _sample(families["genmon_score"], "genmon_score_bucket", le="1.0") == 2
    assert families["genmon_generation_time_seconds"].type == "gauge"
    assert "genmon_llm_operation_duration_seconds" not in families
    ttft = families["genmon_time_to_first_token_seconds"]
    assert [s.labels["le"] for s in ttft.samples if s.name.endswith("_bucket")] == ["0.1", "1.0", "+Inf"]
    with pytest.raises(ValueError, match="kinds"):
        PrometheusCollector(kinds={"x": "meter"})


def test_names_that_would_clash_are_renamed() -> None:
    """A user metric named like an LLM family, or two names alike once sanitised, get distinct names."""
    collector = PrometheusCollector()
    points = [("llm_calls_total", 3.0, 0.0, None), ("success_rate", 1.0, 0.0, None)]
    points += [("a/b_count", 1.0, 0.0, None), ("a_b_count", 2.0, 0.0, None), ("a_b", 1.0, 0.0, None)]
    collector.handle_batch(points)
    text = generate_latest(_registry(collector)).decode()
    families = _families(text)
    assert _sample(families["genmon_llm_calls"], "genmon_llm_calls_total") == 1
    assert _sample(families["genmon_llm_calls_2"], "genmon_llm_calls_2_total") == 3
    assert _sample(families["genmon_a_b_count"], "genmon_a_b_count_total") == 1
    assert _sample(families["genmon_a_b_count_2"], "genmon_a_b_count_2_total") == 2
    assert _sample(families["genmon_a_b"], "genmon_a_b") == 1
    samples = [s.name for f in families.values() for s in f.samples if not s.labels.get("le")]
    assert len(samples) == len(set(samples))


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
    """Slashes, colons and other characters become underscores; types follow the documented word rules."""
    assert sanitize_metric_name("process/cpu%") == "process_cpu_"
    assert sanitize_metric_name("9lives") == "_9lives"
    assert sanitize_metric_name("model_usage:gpt-4o") == "model_usage_gpt_4o"
    names = (
        "evaluation_time",
        "time_to_first_token",
        "latency_ms",
        "runtime",
        "last_success_timestamp",
        "reasoning_tokens",
        "items_count",
        "judge_cost",
        "evaluation_error_rate",
        "system/cpu_percent",
        "system/disk_read_bytes_per_s",
        "quality",
    )
    assert {n: default_kind(n) for n in names} == {
        "evaluation_time": "histogram",
        "time_to_first_token": "histogram",
        "latency_ms": "gauge",
        "runtime": "gauge",
        "last_success_timestamp": "gauge",
        "reasoning_tokens": "histogram",
        "items_count": "counter",
        "judge_cost": "counter",
        "evaluation_error_rate": "summary",
        "system/cpu_percent": "gauge",
        "system/disk_read_bytes_per_s": "gauge",
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
