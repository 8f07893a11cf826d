"""The span pipeline: SpanRecord, spans.jsonl, handle_span lanes and get_spans."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import GenerationMonitor
from genmon.errors import RecordsDropped
from genmon.handlers.base import SpanHandler
from genmon.handlers.spans_file import FileSpanHandler
from genmon.monitor.engine.delivery import deliver_spans
from genmon.monitor.engine.queueing import Control
from genmon.monitor.tracking.span_store import SpanStore
from genmon.records.spans import SpanRecord, new_call_id
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import INTERNED_METADATA
from genmon.testing import CapturingMetricHandler, ManualClock

Make = Callable[..., GenerationMonitor]


class SpanSink(CapturingMetricHandler):
    """A metric handler that also takes spans, one at a time."""

    def __init__(self, name: str | None = None, fail_on: str | None = None) -> None:
        super().__init__(name)
        self.spans: list[SpanRecord] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on

    def handle_span(self, span: SpanRecord) -> None:
        self.threads.add(threading.current_thread().name)
        if span.name == self.fail_on:
            raise RuntimeError("span sink failure")
        self.spans.append(span)


class BatchSpanSink:
    """A span-only handler taking whole batches."""

    def __init__(self) -> None:
        self.batches: list[list[SpanRecord]] = []

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        pass

    def handle_span(self, span: SpanRecord) -> None:  # pragma: no cover - the batch method wins
        raise AssertionError("handle_span_batch should be used")

    def handle_span_batch(self, spans: list[SpanRecord]) -> None:
        self.batches.append(list(spans))


def span(name: str = "x", **fields: Any) -> SpanRecord:
    base: dict[str, Any] = {"call_id": "c1", "parent_call_id": None, "name": name, "span_type": "LLM"}
    base.update(start=100.0, duration_s=0.5, success=True)
    return SpanRecord(**{**base, **fields})


def test_span_record_to_dict_is_json_ready() -> None:
    """to_dict gives every field, metadata as a dict, and survives a JSON round trip."""
    record = span(prompt_tokens=3, completion_tokens=4, metadata={"k": [1, 2]})
    data = record.to_dict()
    assert list(data) == list(SpanRecord._fields)
    assert orjson.loads(orjson.dumps(data)) == data
    assert span().to_dict()["metadata"] == {}
    assert (record.total_tokens, record.end, record.operation) == (7, 100.5, "x")
    assert span().total_tokens is None


def test_the_span_record_keeps_the_finish_reason_and_the_response_model(make_monitor: Make) -> None:
    """set_result's finish reason and the model the response names reach the SpanRecord; the asked model stays."""
    monitor = make_monitor()
    with monitor.track("chat", model_name="gpt-4o") as tracked:
        tracked.set_result({"model": "gpt-4o-2024-08-06", "choices": [{"finish_reason": "length"}]})
    with monitor.track("bare"):
        pass
    monitor.sync_store()
    spans = {s.name: s for s in monitor.get_spans()}
    chat = spans["chat"]
    assert type(chat) is SpanRecord and len(chat) == len(SpanRecord._fields)  # every field, in order
    assert (chat.model_name, chat.response_model, chat.finish_reason) == ("gpt-4o", "gpt-4o-2024-08-06", "length")
    assert (spans["bare"].response_model, spans["bare"].finish_reason) == (None, None)


def test_spans_jsonl_gets_one_line_per_span(tmp_path: Path, clock: ManualClock) -> None:
    """Each tracked call is one spans.jsonl line: the span's fields plus an ISO timestamp of its start."""
    with (
        GenerationMonitor(log_dir=tmp_path, metrics_interval=0, clock=clock) as monitor,
        monitor.track("outer", span_type="CHAIN"),
        monitor.track("inner", model_name="m", flag=True),
    ):
        pass
    lines = [orjson.loads(line) for line in (tmp_path / "spans.jsonl").read_bytes().splitlines()]
    assert [line["name"] for line in lines] == ["inner", "outer"]
    assert lines[0]["parent_call_id"] == lines[1]["call_id"]
    assert lines[0]["metadata"] == {"flag": True} and lines[0]["model_name"] == "m"
    assert lines[0]["timestamp"] == IsoFormatter()(clock()) and lines[0]["start"] == clock()


def test_no_spans_file_without_file_sinks_or_spans(tmp_path: Path) -> None:
    """metric_handlers=[] writes no spans.jsonl; a default monitor that tracks nothing leaves none either."""
    with GenerationMonitor(log_dir=tmp_path / "a", metrics_interval=0, metric_handlers=[]) as monitor:
        with monitor.track("x"):
            pass
        monitor.sync_store()
        assert len(monitor.get_spans()) == 1
    with GenerationMonitor(log_dir=tmp_path / "b", metrics_interval=0):
        pass
    assert not (tmp_path / "a" / "spans.jsonl").exists() and not (tmp_path / "b" / "spans.jsonl").exists()


def test_handlers_with_handle_span_get_spans_on_their_own_lane(make_monitor: Make) -> None:
    """A metric handler with handle_span receives spans on a lane thread, and still its metrics."""
    sink = SpanSink("sink")
    monitor = make_monitor(metric_handlers=[sink])
    with monitor.track("a"):
        pass
    assert monitor.flush(10)
    assert [s.name for s in sink.spans] == ["a"]
    assert sink.threads == {"genmon-lane-sink#2"}  # named after the handler; "sink" is its metric lane
    assert "generation_time" in {name for name, _, _ in sink.points}
    assert isinstance(sink, SpanHandler)


def test_handle_span_batch_is_preferred(make_monitor: Make) -> None:
    """A handler with handle_span_batch receives whole batches instead of single spans."""
    sink = BatchSpanSink()
    monitor = make_monitor(metric_handlers=[sink])
    tracked = monitor.track("b")(lambda: None)
    for _ in range(5):
        tracked()
    assert monitor.flush(10)
    assert sum(len(b) for b in sink.batches) == 5


def test_a_raising_span_handler_is_counted_and_isolated(make_monitor: Make) -> None:
    """A span handler that raises is counted in errors; the other spans and handlers still arrive."""
    bad, good = SpanSink("bad", fail_on="boom"), SpanSink("good")
    monitor = make_monitor(metric_handlers=[bad, good])
    for name in ("ok1", "boom", "ok2"):
        with monitor.track(name):
            pass
    assert monitor.flush(10)
    assert [s.name for s in bad.spans] == ["ok1", "ok2"]
    assert [s.name for s in good.spans] == ["ok1", "boom", "ok2"]
    assert monitor.errors.snapshot() == {"bad#2": 1}


def test_deliver_spans_keeps_going_after_a_bad_span() -> None:
    """Per-span delivery calls the handler for every span, then reports the failed ones as dropped."""
    sink = SpanSink(fail_on="bad")
    with pytest.raises(RecordsDropped) as raised:
        deliver_spans(sink, [span("a"), span("bad"), span("c")])
    assert [s.name for s in sink.spans] == ["a", "c"]
    assert raised.value.counts == {"handler_error": 1} and "RuntimeError" in str(raised.value)


def test_get_spans_filters(make_monitor: Make, clock: ManualClock) -> None:
    """get_spans filters by name/operation, parent (None = roots), span type, window and limit."""
    monitor = make_monitor(clock=clock)
    with monitor.track("root", span_type="CHAIN") as root:
        for i in range(3):
            with monitor.track("step", span_type="TOOL", index=i):
                pass
    clock.advance(600)
    with monitor.track("late"):
        pass
    monitor.sync_store()
    assert [s.name for s in monitor.get_spans(parent_call_id=None)] == ["root", "late"]
    assert [s.metadata["index"] for s in monitor.get_spans(parent_call_id=root.call_id)] == [0, 1, 2]  # type: ignore[index]
    assert len(monitor.get_spans(operation="step")) == len(monitor.get_spans(name="step")) == 3
    assert [s.name for s in monitor.get_spans(span_type="chain")] == ["root"]
    assert [s.name for s in monitor.get_spans(window=60)] == ["late"]
    assert [s.metadata["index"] for s in monitor.get_spans(name="step", limit=2)] == [1, 2]  # type: ignore[index]
    assert monitor.get_spans(limit=0) == []
    with pytest.raises(ValueError):
        monitor.get_spans(name="a", operation="b")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_call_ids_stay_unique_in_a_forked_child() -> None:
    """A forked child draws call ids with a new random prefix, so they never repeat the parent's."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report one id and leave without running any cleanup
        os.write(write_end, new_call_id().encode())
        os._exit(0)
    os.close(write_end)
    child_id = os.read(read_end, 100).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    parent_id = new_call_id()
    assert len(child_id) == len(parent_id) == 20 and child_id[:8] != parent_id[:8]


def test_span_store_is_bounded() -> None:
    """The recent-span store forgets the oldest spans beyond its bound."""
    store = SpanStore(maxlen=3)
    store.append_batch([span(str(i)) for i in range(5)])
    assert [s.name for s in store.query()] == ["2", "3", "4"] and len(store) == 3


def test_close_drains_spans_to_file_and_store(tmp_path: Path) -> None:
    """Spans recorded just before close are all in spans.jsonl and get_spans after close."""
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    tracked = monitor.track("t")(lambda: None)
    for _ in range(2000):
        tracked()
    assert monitor.close(30)
    assert len((tmp_path / "spans.jsonl").read_bytes().splitlines()) == 2000
    assert len(monitor.get_spans()) == 2000
    assert monitor.stats()["spans"]["processed"] == 2000


def test_file_span_handler_appends_single_spans(tmp_path: Path) -> None:
    """The spans.jsonl handler also takes single spans (the SpanHandler protocol)."""
    handler = FileSpanHandler(tmp_path)
    handler.handle_span(span("one"))
    handler.handle_span(span("two"))
    handler.close()
    assert [orjson.loads(x)["name"] for x in (tmp_path / "spans.jsonl").read_bytes().splitlines()] == ["one", "two"]


def test_a_queued_span_is_a_plain_tuple_the_collector_untracks_and_handlers_get_span_records(
    make_monitor: Make,
) -> None:
    """The caller queues a dict-free tuple; the store keeps one; handlers and readers get SpanRecords with dict metadata."""
    import gc

    sink = SpanSink()
    monitor = make_monitor(metric_handlers=[sink])
    queued: list[Any] = []
    source = monitor._rt.spans.source
    real_put = source._put
    source._put = source.enqueue = lambda item: (queued.append(item), real_put(item))
    tracker = monitor.track("chat", model_name="m", team="a")
    with tracker as span:
        span.set_usage(prompt_tokens=1, completion_tokens=2)
    with monitor.track("tool", span_type="TOOL", nested={"k": [1, 2]}):
        pass
    assert monitor.flush(10)
    queued = [item for item in queued if not isinstance(item, Control)]  # the flush's marker
    assert [type(item) for item in queued] == [tuple, tuple]
    gc.collect()
    gc.collect()
    assert not gc.is_tracked(queued[0])  # text, numbers and packed metadata only
    kept = list(monitor._rt.span_store._spans)
    assert not gc.is_tracked(kept[0])
    for got in (sink.spans, monitor.get_spans()):
        assert [type(s) for s in got] == [SpanRecord, SpanRecord]
        assert got[0].metadata == {"team": "a"} and got[1].metadata == {"nested": {"k": [1, 2]}}
        assert (got[0].prompt_tokens, got[0].completion_tokens, got[0].name) == (1, 2, "chat")


def test_a_span_read_back_from_the_store_equals_the_one_put_in() -> None:
    """SpanRecords with every kind of metadata (none, empty, text, nested) come back equal, in order."""
    store = SpanStore()
    records = [
        span("a"),
        span("b")._replace(metadata={}),
        span("c")._replace(metadata={"k": "v", "n": 1}),
        span("d")._replace(metadata={"deep": {"x": [1, {"y": 2}]}}),
    ]
    store.append_batch(records)
    assert store.query() == records
    assert [type(s.metadata) for s in store.query()] == [type(None), dict, dict, dict]
    assert store.query(name="c", limit=1) == [records[2]]


def test_a_spans_metadata_keeps_its_own_types_and_is_not_the_metrics_shared_dict(make_monitor: Make) -> None:
    """(("x", 1),) == (("x", True),): a stored span reads back its own metadata, never another equal dict's."""
    monitor = make_monitor()
    with monitor.track("op", x=True):
        pass
    monitor.record_metric("m", 1.0, {"x": 1})  # interned content equal to the span's, with another type
    with monitor.track("other") as span:
        span.set_metadata(team="a")
    monitor.record_metric("n", 1.0, {"team": "a"})
    assert monitor.flush(10)
    first, second = monitor.get_spans()
    assert first.metadata == {"x": True} and type(first.metadata["x"]) is bool
    shared = INTERNED_METADATA.get((("team", "a"),))  # the metric's interned metadata
    assert shared is not None and second.metadata is not shared[0]
