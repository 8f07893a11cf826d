"""One bad record never takes its batch with it: metrics.jsonl, genmon.log, spans.jsonl and batch handlers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import FileLogHandler, GenerationMonitor
from genmon.handlers.append_only import AppendOnlyFile
from genmon.records.spans import SpanRecord, new_call_id
from genmon.testing import CapturingLogHandler


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_a_poisoned_point_costs_only_itself_in_metrics_jsonl(make_monitor) -> None:
    """A point that slipped past validation is dropped, counted and logged once by name; its batch-mates land in order."""
    logs = CapturingLogHandler()
    monitor: GenerationMonitor = make_monitor(log_handlers=[logs])
    now = time.time()
    # Put straight on the queue, as if validation had missed them: one batch, 100 good points around 2 bad ones.
    queue = monitor._rt.metric_queue
    for i in range(100):
        queue.put(("good", float(i), now, None))
        if i in (10, 60):
            queue.put(("bad\ud800", 1.0, now, {"i": i}))
    assert monitor.flush(10)
    written = lines(monitor.log_dir / "metrics.jsonl")
    assert [r["value"] for r in written] == [float(i) for i in range(100)]
    sink = monitor.stats()["sinks"]["FileMetricHandler"]
    assert sink["received"] == 102 and sink["delivered"] == 100 and sink["dropped"] == {"unserialisable": 2}
    reports = [m for m in logs.messages("error") if "could not be encoded" in m]
    assert len(reports) == 1 and "bad\\ud800" in reports[0]
    # The store keeps every point, so stats tell "in the store" from "in the file".
    assert monitor.stats()["stored_points"] == 102


def test_a_poisoned_log_record_and_span_cost_only_themselves(make_monitor) -> None:
    """genmon.log and spans.jsonl drop only the record that cannot be encoded."""
    monitor: GenerationMonitor = make_monitor()
    now = time.time()
    put_log = monitor._rt.put_log
    put_log((now, "info", "before", {}))
    put_log((now, "info", "bad", {"x": "\udcff"}))
    put_log((now, "info", "after", {}))
    spans = monitor._rt.spans.source
    for name in ("a", "b\ud800", "c"):
        spans.put(SpanRecord(new_call_id(), None, name, "LLM", now, 0.1, True))
    assert monitor.flush(10)
    assert [
        r["message"] for r in lines(monitor.log_dir / "genmon.log") if r["message"] in ("before", "bad", "after")
    ] == [
        "before",
        "after",
    ]
    assert [r["name"] for r in lines(monitor.log_dir / "spans.jsonl")] == ["a", "c"]
    stats = monitor.stats()
    assert stats["logs"]["sinks"]["FileLogHandler"]["dropped"] == {"unserialisable": 1}
    assert stats["spans"]["sinks"]["spans.jsonl"]["dropped"] == {"unserialisable": 1}


def test_a_full_disk_is_counted_per_file_and_the_store_keeps_the_points(make_monitor, monkeypatch) -> None:
    """Batches the disk refuses are counted as write_failed on metrics.jsonl; the store still has every point."""
    failing = {"on": False}
    real_write = AppendOnlyFile.write

    def write(self: AppendOnlyFile, data: bytes) -> None:
        if failing["on"] and b'"metric"' in data:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(AppendOnlyFile, "write", write)
    monitor: GenerationMonitor = make_monitor()
    monitor.record_metric("x", 1.0)
    assert monitor.flush(10)
    failing["on"] = True
    for i in range(500):
        monitor.record_metric("x", float(i))
    assert monitor.flush(10)
    failing["on"] = False
    monitor.record_metric("x", 2.0)
    assert monitor.flush(10)
    stats = monitor.stats()
    sink = stats["sinks"]["FileMetricHandler"]
    assert sink["dropped"] == {"write_failed": 500} and sink["delivered"] == 2
    assert stats["stored_points"] == 502 and len(lines(monitor.log_dir / "metrics.jsonl")) == 2


class OrjsonBatchHandler:
    """A user handler whose handle_batch encodes the whole batch at once (and fails on one bad point)."""

    def __init__(self) -> None:
        self.received: list[str] = []

    def handle_batch(self, points: list[Any]) -> None:
        orjson.dumps([p[0] for p in points])  # raises on a lone surrogate
        self.received.extend(p[0] for p in points)


def test_a_batch_handler_that_fails_to_encode_gets_the_batch_again_record_by_record(make_monitor) -> None:
    """A handle_batch failing with an encoding error is retried per record: the good records reach it."""
    handler = OrjsonBatchHandler()
    monitor: GenerationMonitor = make_monitor(metric_handlers=[handler])
    now = time.time()
    for name in ("a", "b\ud800", "c"):
        monitor._rt.metric_queue.put((name, 1.0, now, None))
    assert monitor.flush(10)
    assert handler.received == ["a", "c"]
    assert monitor.stats()["sinks"]["OrjsonBatchHandler"]["dropped"] == {"unserialisable": 1}


@pytest.mark.parametrize("count", [1, 3])
def test_per_record_handlers_lose_only_the_records_that_raise(make_monitor, count: int) -> None:
    """afterimage's handle_metric is called for every point; those that raise are counted as handler_error."""

    class Picky:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
            if value < count:
                raise ValueError("too small")
            self.seen.append(value)

    picky = Picky()
    monitor: GenerationMonitor = make_monitor(metric_handlers=[picky])
    for i in range(10):
        monitor.record_metric("x", float(i))
    assert monitor.flush(10)
    assert picky.seen == [float(i) for i in range(count, 10)]
    sink = monitor.stats()["sinks"]["Picky"]
    assert sink["delivered"] == 10 - count and sink["dropped"] == {"handler_error": count}


def fail_writes_to(monkeypatch: pytest.MonkeyPatch, filename: str) -> dict[str, bool]:
    """While the returned switch is on, every write to ``filename`` fails as on a full disk."""
    failing = {"on": False}
    real_write = AppendOnlyFile.write

    def write(self: AppendOnlyFile, data: bytes) -> None:
        if failing["on"] and Path(self._raw.name).name == filename:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(AppendOnlyFile, "write", write)
    return failing


def test_a_full_disk_under_genmon_log_is_counted_on_that_file_and_the_other_log_sinks_keep_the_records(
    make_monitor, monkeypatch, tmp_path: Path
) -> None:
    """Log records genmon.log refuses are counted as write_failed on it alone; other log sinks and metrics.jsonl get theirs."""
    failing = fail_writes_to(monkeypatch, "genmon.log")
    logs = CapturingLogHandler()
    monitor: GenerationMonitor = make_monitor(log_dir=tmp_path, log_handlers=[FileLogHandler(tmp_path), logs])
    monitor.log_info("before")
    assert monitor.flush(10)
    failing["on"] = True
    for i in range(50):
        monitor.log_info(f"lost-{i}")
        monitor.record_metric("x", float(i))
    assert monitor.flush(10)
    failing["on"] = False
    monitor.log_info("after")
    assert monitor.flush(10)
    stats = monitor.stats()
    file_log = stats["logs"]["sinks"]["FileLogHandler"]
    written = lines(monitor.log_dir / "genmon.log")
    # The 50 records, and any report of the failure made while the disk was full, are counted, not written.
    assert file_log["dropped"]["write_failed"] >= 50 and set(file_log["dropped"]) == {"write_failed"}
    assert file_log["received"] == file_log["delivered"] + file_log["dropped"]["write_failed"]
    assert file_log["delivered"] == len(written)
    assert not any(r["message"].startswith("lost-") for r in written)
    assert {"before", "after"} <= {r["message"] for r in written}
    assert [m for m in logs.messages() if m.startswith("lost-")] == [f"lost-{i}" for i in range(50)]
    assert stats["sinks"]["FileMetricHandler"]["dropped"] == {}
    assert len(lines(monitor.log_dir / "metrics.jsonl")) == 50


def test_a_full_disk_under_spans_jsonl_is_counted_on_that_file_and_the_store_keeps_the_spans(
    make_monitor, monkeypatch
) -> None:
    """Spans spans.jsonl refuses are counted as write_failed on it; the store still has every span."""
    failing = fail_writes_to(monkeypatch, "spans.jsonl")
    monitor: GenerationMonitor = make_monitor()
    with monitor.track("before"):
        pass
    assert monitor.flush(10)
    failing["on"] = True
    for _ in range(50):
        with monitor.track("lost"):
            pass
    assert monitor.flush(10)
    failing["on"] = False
    with monitor.track("after"):
        pass
    assert monitor.flush(10)
    sink = monitor.stats()["spans"]["sinks"]["spans.jsonl"]
    assert sink["dropped"] == {"write_failed": 50} and sink["delivered"] == 2
    assert [r["name"] for r in lines(monitor.log_dir / "spans.jsonl")] == ["before", "after"]
    assert len(monitor.get_spans(name="lost")) == 50 and len(monitor.get_spans()) == 52


def test_a_batch_of_spans_is_written_as_each_span_s_own_line(tmp_path: Path) -> None:
    """spans.jsonl's batch encoder (dicts in C, a time template per second) writes format_line's text exactly."""
    from genmon.handlers.spans_file import FileSpanHandler

    monitor = GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0)
    try:
        for i in range(300):
            with monitor.track("chat", model_name="m", metadata={"k": "v"} if i % 2 else None) as span:
                span.set_usage(prompt_tokens=3, completion_tokens=i)
        assert monitor.flush(30)
        spans = monitor.get_spans(limit=1000)
    finally:
        assert monitor.close(30)
    assert len(spans) == 300
    handler = FileSpanHandler(tmp_path)
    try:
        assert handler._encode(spans) == b"".join(handler.format_line(span) for span in spans)
    finally:
        handler.close()


def test_queued_spans_of_several_kinds_are_written_as_each_span_s_own_line(tmp_path: Path) -> None:
    """spans.jsonl's per-kind templates: queued (packed) spans of mixed kinds, failures, costs, children and odd text."""
    import random

    from genmon.handlers.spans_file import FileSpanHandler

    rng = random.Random(4)
    monitor = GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0, prices={"gpt-4o": (0.005, 0.015)})
    trackers = [
        monitor.track("chat", model_name="gpt-4o", component="writer"),
        monitor.track("tool,%s", span_type="TOOL", k='v,"1"%d'),
        monitor.track("nested", deep={"k": [1, 2]}),  # metadata no template takes: dumped whole
        monitor.track("x", model_name="mé☃"),
    ]
    try:
        for _ in range(600):
            try:
                with rng.choice(trackers) as outer:
                    if rng.random() < 0.5:
                        outer.set_usage(prompt_tokens=rng.randint(0, 10**9), completion_tokens=rng.randint(0, 99))
                    if rng.random() < 0.2:
                        with trackers[0]:
                            pass
                    if rng.random() < 0.1:
                        raise ValueError('bad, "x" %s')
            except ValueError:
                pass
        assert monitor.flush(30)
        queued = list(monitor._rt.span_store._spans)  # the queued form: plain tuples, packed metadata
        records = monitor.get_spans()
    finally:
        assert monitor.close(30)
    assert type(queued[0]) is tuple and len(queued) > 600
    handler = FileSpanHandler(tmp_path)
    try:
        expected = b"".join(handler.format_line(record) for record in records)
        assert handler._encode(queued) == expected  # templates, mixed kinds
        one_kind = [s for s in queued if s[2] == "chat" and s[6]]
        assert handler._encode(one_kind) == b"".join(handler.format_line(s) for s in one_kind)  # one template, in C
        assert (tmp_path / "run" / "spans.jsonl").read_bytes() == expected  # what the monitor wrote
    finally:
        handler.close()


def test_a_subclass_with_its_own_batch_method_gets_afterimage_shaped_records(tmp_path: Path) -> None:
    """The file sinks take the monitor's internal records only while their own batch methods handle them."""
    from genmon import FileMetricHandler
    from genmon.handlers.spans_file import FileSpanHandler

    class Metrics(FileMetricHandler):
        def handle_batch(self, points: list[Any]) -> None:
            self.seen = [*getattr(self, "seen", []), *points]

    class Logs(FileLogHandler):
        def handle_batch(self, records: list[Any]) -> None:
            self.seen = [*getattr(self, "seen", []), *records]

    class Spans(FileSpanHandler):
        def handle_span_batch(self, spans: list[Any]) -> None:
            self.seen = [*getattr(self, "seen", []), *spans]

    metrics, logs, spans = Metrics(tmp_path), Logs(tmp_path), Spans(tmp_path)
    assert not (metrics.takes_point_groups or logs.takes_log_tuples or spans.takes_span_tuples)
    assert FileMetricHandler(tmp_path).takes_point_groups and FileLogHandler(tmp_path).takes_log_tuples
    assert FileSpanHandler(tmp_path).takes_span_tuples
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, metric_handlers=[metrics], log_handlers=[logs])
    try:
        for _ in range(3):
            monitor.track_generation(0.5, True, model_name="m", prompt_token_count=3, metadata={"op": "chat"})
        with monitor.track("chat", model_name="m", team="a"):
            pass
        assert monitor.flush(10)
    finally:
        monitor.close()
    assert all(len(p) == 4 and (p[3] is None or type(p[3]) is dict) for p in metrics.seen)
    assert all(type(r) is dict for r in logs.seen) and logs.seen[0]["data"]["metadata"] == {"op": "chat"}
    # (a span handler without the flag gets SpanRecords: tests/monitor/tracking/test_spans.py)


def test_spans_whose_fields_compare_equal_across_types_are_each_written_as_given(tmp_path: Path) -> None:
    """True == 1 == 1.0 and 0.0 == -0.0: a kind of call found by equality must not lend its line to another."""
    from genmon.handlers.spans_file import FileSpanHandler

    monitor = GenerationMonitor(log_dir=tmp_path / "run", metrics_interval=0, capture_io=True)
    outputs: list[Any] = [True, 1, 1.0, 0.0, -0.0, False, 0]
    try:
        for value in outputs:
            with monitor.track("op") as span:
                span.set_outputs(value)
            assert monitor.flush(10)  # one span a batch: each kind meets the template of the last
    finally:
        assert monitor.close(30)
    written = [orjson.loads(line) for line in (tmp_path / "run" / "spans.jsonl").read_bytes().splitlines()]
    assert [(type(s["outputs"]), s["outputs"]) for s in written] == [(type(v), v) for v in outputs]
    assert [str(s["outputs"]) for s in written][4] == "-0.0"
    handler = FileSpanHandler(tmp_path)
    try:
        base = SpanRecord(new_call_id(), None, "op", "LLM", 1.0, 0.5, True, metadata={"x": 1})
        odd = [tuple(base), tuple(base._replace(success=1)), tuple(base._replace(metadata={"x": True}))]
        odd[1] = (*odd[1][:14], (("x", 1),), *odd[1][15:])  # stored forms: metadata as items
        odd[2] = (*odd[2][:14], (("x", True),), *odd[2][15:])
        plain = tuple(base._replace(metadata=None))
        handler._encode([plain])  # its kind's template made first: success True
        as_int = (*plain[:6], 1, *plain[7:])  # the same kind by equality (1 == True)
        assert handler._encode([as_int]) == handler.format_line(as_int) and b'"success":1,' in handler._encode([as_int])
        for span in odd[1:]:
            assert handler._encode([span]) == handler.format_line(span)
        assert b'"success":1,' in handler._encode([odd[1]]) and b'"x":true' in handler._encode([odd[2]])
    finally:
        handler.close()
