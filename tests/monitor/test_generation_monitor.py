"""The façade's producers, readers and files."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from genmon import GenerationMonitor, TokenUsageReport
from genmon.monitor.store.window import STAT_KEYS
from genmon.testing import CapturingLogHandler, CapturingMetricHandler

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_jsonl_lines_have_afterimage_shape_with_offset_timestamps(make_monitor) -> None:
    """Each line is {"metric", "value", <metadata keys>, "timestamp"} with an ISO-8601 offset timestamp."""
    monitor = make_monitor()
    monitor.record_metric("latency", 0.25, {"model_name": "m1", "operation": "chat"})
    monitor.record_metric("plain", 3)
    assert monitor.flush(10)
    lines = read_jsonl(monitor.log_dir / "metrics.jsonl")
    assert list(lines[0]) == ["metric", "value", "model_name", "operation", "timestamp"]
    assert lines[0]["metric"] == "latency" and lines[0]["value"] == 0.25 and lines[0]["model_name"] == "m1"
    assert lines[1] == {"metric": "plain", "value": 3.0, "timestamp": lines[1]["timestamp"]}
    for line in lines:
        assert ISO_WITH_OFFSET.match(line["timestamp"]), line["timestamp"]
        assert datetime.fromisoformat(line["timestamp"]).tzinfo is not None


def test_metadata_timestamp_sets_the_point_time(make_monitor, clock) -> None:
    """A datetime, epoch seconds or ISO string under metadata['timestamp'] becomes the point's time."""
    monitor = make_monitor(clock=clock)
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    monitor.record_metric("a", 1.0, {"timestamp": when})
    monitor.record_metric("b", 1.0, {"timestamp": when.timestamp()})
    monitor.record_metric("c", 1.0, {"timestamp": when.isoformat()})
    assert monitor.flush(10)
    for name in "abc":
        data = monitor.store.series(name)
        assert data is not None and data.timestamps.tolist() == [when.timestamp()]
    stamps = {line["metric"]: line["timestamp"] for line in read_jsonl(monitor.log_dir / "metrics.jsonl")}
    assert all(datetime.fromisoformat(s) == when for s in stamps.values())


def test_track_generation_records_afterimage_metrics_with_call_metadata(make_monitor, clock) -> None:
    """track_generation records afterimage's names; error_rate is 0/1 on every call; metadata is on every metric."""
    monitor = make_monitor(clock=clock)
    monitor.track_generation(
        1.5,
        True,
        model_name="gpt-4o",
        finish_reason="stop",
        prompt_token_count=100,
        completion_token_count=20,
        total_token_count=120,
        conversation_length=3,
        operation="chat",
        component="writer",
        metadata={"run": "r1"},
    )
    monitor.track_generation(0.5, False, model_name="gpt-4o", error="429 rate limited")
    assert monitor.flush(10)
    names = set(monitor.store.names())
    assert {
        "generation_time",
        "success_rate",
        "error_rate",
        "model_usage:gpt-4o",
        "finish_reason:stop",
        "prompt_token_count",
        "completion_token_count",
        "total_token_count",
        "conversation_length",
    } <= names
    assert monitor.get_metrics("error_rate")["mean"] == 0.5
    assert monitor.get_metrics("success_rate")["count"] == 2
    data = monitor.store.series("prompt_token_count")
    assert data is not None
    meta = data.metadata()[0]
    assert meta == {
        "run": "r1",
        "model_name": "gpt-4o",
        "finish_reason": "stop",
        "operation": "chat",
        "component": "writer",
    }
    for line in read_jsonl(monitor.log_dir / "metrics.jsonl")[:9]:
        assert line["operation"] == "chat" and line["model_name"] == "gpt-4o"
    logs = read_jsonl(monitor.log_dir / "genmon.log")
    assert logs[0]["message"] == "Generation metrics" and logs[0]["data"]["duration"] == 1.5
    assert logs[1]["data"]["error"] == "429 rate limited"


def test_track_evaluation_records_time_scores_error_rate_and_tokens(make_monitor) -> None:
    """track_evaluation records evaluation_time, one metric per score, evaluation_error_rate and tokens."""
    monitor = make_monitor()
    monitor.track_evaluation(
        0.7,
        True,
        "coherence",
        {"fluency": 0.9, "accuracy": {"score": 0.4, "feedback": "wrong year"}},
        model_name="judge",
        prompt_token_count=50,
    )
    assert monitor.flush(10)
    assert monitor.get_metrics("evaluation_score_fluency")["mean"] == 0.9
    assert monitor.get_metrics("evaluation_score_accuracy")["mean"] == 0.4
    assert monitor.get_metrics("evaluation_error_rate")["mean"] == 0.0
    accuracy = monitor.store.series("evaluation_score_accuracy")
    assert accuracy is not None and accuracy.metadata()[0]["feedback"] == "wrong year"
    assert monitor.get_total_token_usage().by_model[0].model_name == "judge"


def test_get_metrics_has_every_statistic_over_the_window(make_monitor, clock) -> None:
    """get_metrics returns the same keys for unknown, empty and full windows, computed over the window only."""
    monitor = make_monitor(clock=clock)
    assert set(monitor.get_metrics("unknown")) == set(STAT_KEYS)
    for value in range(10):
        monitor.record_metric("m", float(value))
        clock.advance(60)
    assert monitor.flush(10)
    stats = monitor.get_metrics("m", timedelta(minutes=5))
    recent = np.array([5.0, 6.0, 7.0, 8.0, 9.0])
    assert stats["count"] == 5 and stats["mean"] == recent.mean() and stats["last"] == 9.0
    assert stats["p95"] == pytest.approx(np.percentile(recent, 95))
    assert stats["std"] == pytest.approx(recent.std())
    assert monitor.get_metrics("m", 600)["count"] == 10
    empty = monitor.get_metrics("m", timedelta(0))
    assert set(empty) == set(STAT_KEYS) and empty["count"] == 0 and not empty


def test_token_usage_is_grouped_by_model_and_windowed(make_monitor, clock) -> None:
    """get_total_token_usage sums per model, 'unknown' without one, optionally over a window."""
    monitor = make_monitor(clock=clock)
    monitor.track_generation(
        1, True, model_name="a", prompt_token_count=10, completion_token_count=5, total_token_count=15
    )
    clock.advance(3600)
    monitor.track_generation(
        1, True, model_name="b", prompt_token_count=1, completion_token_count=2, total_token_count=3
    )
    monitor.track_generation(1, True, prompt_token_count=7)
    monitor.track_generation(1, True, model_name="a", prompt_token_count=100)
    assert monitor.flush(10)
    report = monitor.get_total_token_usage()
    assert isinstance(report, TokenUsageReport)
    by_model = {u.model_name: u for u in report.by_model}
    assert [u.model_name for u in report.by_model] == ["a", "b", "unknown"]
    assert (by_model["a"].prompt_tokens, by_model["a"].completion_tokens, by_model["a"].total_tokens) == (110, 5, 15)
    assert report.total_prompt_tokens == 118 and report.total_tokens == 18
    recent = monitor.get_total_token_usage(window=timedelta(minutes=5))
    assert {u.model_name: u.prompt_tokens for u in recent.by_model} == {"a": 100, "b": 1, "unknown": 7}


def test_record_metrics_shares_time_and_metadata(make_monitor) -> None:
    """record_metrics records each mapping entry with the same timestamp and metadata."""
    monitor = make_monitor()
    monitor.record_metrics({"a": 1, "b": 2.5}, {"stage": "x"})
    assert monitor.flush(10)
    lines = read_jsonl(monitor.log_dir / "metrics.jsonl")
    assert [(line["metric"], line["value"], line["stage"]) for line in lines] == [("a", 1.0, "x"), ("b", 2.5, "x")]
    assert lines[0]["timestamp"] == lines[1]["timestamp"]


def test_log_methods_write_json_lines_and_reach_log_handlers(make_monitor) -> None:
    """log_info/warning/error write one JSON object a line (message, level, timestamp, data) and feed handlers."""
    handler = CapturingLogHandler()
    monitor = make_monitor(log_handlers=[handler])
    monitor.log_info("started", run=1)
    monitor.log_warning("slow")
    monitor.log_error("failed", error=ValueError("bad"), step=3)
    assert monitor.flush(10)
    assert [r["level"] for r in handler.records] == ["info", "warning", "error"]
    assert handler.records[2]["error"] == "bad" and handler.records[2]["error_type"] == "ValueError"
    assert handler.records[0]["run"] == 1 and ISO_WITH_OFFSET.match(handler.records[0]["timestamp"])
    assert not (monitor.log_dir / "genmon.log").exists()  # log_handlers given: no default file


def test_default_and_empty_handler_lists(tmp_path: Path) -> None:
    """None means the default files; [] means no handler at all (afterimage brought the file back)."""
    with GenerationMonitor(log_dir=tmp_path / "a", metrics_interval=0) as monitor:
        monitor.record_metric("x", 1)
        monitor.log_info("hi")
    assert (tmp_path / "a" / "metrics.jsonl").exists() and (tmp_path / "a" / "genmon.log").exists()
    with GenerationMonitor(log_dir=tmp_path / "b", metric_handlers=[], log_handlers=[], metrics_interval=0) as monitor:
        monitor.record_metric("x", 1)
        monitor.log_info("hi")
        assert monitor.flush(10)
        assert monitor.get_metrics("x")["count"] == 1
    assert list((tmp_path / "b").iterdir()) == []


def test_per_point_handlers_get_iso_timestamp_in_metadata(make_monitor) -> None:
    """handle_metric is called with keywords and metadata holding an ISO timestamp, like afterimage."""
    handler = CapturingMetricHandler()
    monitor = make_monitor(metric_handlers=[handler])
    monitor.record_metric("x", 2.0, {"k": "v"})
    assert monitor.flush(10)
    [(name, value, meta)] = handler.points
    assert (name, value, meta["k"]) == ("x", 2.0, "v")
    assert ISO_WITH_OFFSET.match(meta["timestamp"])


def test_default_log_dirs_are_unique_within_one_second(tmp_path: Path, monkeypatch) -> None:
    """Two monitors started in the same second get different default directories."""
    monkeypatch.chdir(tmp_path)
    with GenerationMonitor(metrics_interval=0) as first, GenerationMonitor(metrics_interval=0) as second:
        assert first.log_dir != second.log_dir
        assert first.log_dir.parent == second.log_dir.parent == Path(".genmon")


def test_stats_counts_recorded_processed_and_depth(make_monitor) -> None:
    """stats() reports recorded, processed, drops, handler errors and queue depth."""
    monitor = make_monitor()
    for i in range(100):
        monitor.record_metric("x", i)
    assert monitor.flush(10)
    stats = monitor.stats()
    assert stats["recorded"] == stats["processed"] == 100
    assert stats["queue_depth"] == 0 and stats["dropped"] == {} and stats["handler_errors"] == {}
    assert stats["stored_points"] == 100


def test_afterimage_names_import_from_genmon_monitoring() -> None:
    """Every afterimage.monitoring name used by programs is importable from genmon.monitoring."""
    import genmon
    import genmon.monitoring as compat

    for name in (
        "Alert",
        "MetricHandler",
        "LogHandler",
        "FileMetricHandler",
        "FileLogHandler",
        "ModelTokenUsage",
        "TokenUsageReport",
        "GenerationMonitor",
    ):
        assert getattr(compat, name) is getattr(genmon, name)
    assert sorted(genmon.__all__) == genmon.__all__


def test_whole_run_token_usage_outlives_evicted_points(make_monitor) -> None:
    """get_total_token_usage() counts every call of the run even after the store evicted old points."""
    monitor = make_monitor(max_points_per_metric=100)
    for _ in range(1000):
        monitor.track_generation(0.1, True, model_name="m", prompt_token_count=10, completion_token_count=2)
    assert monitor.flush(10)
    assert monitor.store.count("prompt_token_count") == 100
    report = monitor.get_total_token_usage()
    assert (report.total_prompt_tokens, report.total_completion_tokens) == (10_000, 2_000)
