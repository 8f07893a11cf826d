"""Captured inputs and outputs: off by default, on per monitor or per track, truncated, redacted, serialised on the span worker."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
import pytest

from genmon import GenerationMonitor
from genmon.monitor.tracking import capture
from genmon.monitor.tracking.capture import CapturePolicy, jsonable
from genmon.monitor.tracking.events import Event
from genmon.records.redaction import redact_secrets

Make = Callable[..., GenerationMonitor]


class Point(NamedTuple):
    x: int
    y: int


@dataclasses.dataclass
class Request:
    prompt: str
    temperature: float


class Agent:
    def answer(self, question: str, *, context: list[str]) -> dict[str, Any]:
        return {"text": question.upper(), "sources": context}


def lines_of(monitor: GenerationMonitor) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (monitor.log_dir / "spans.jsonl").read_text().splitlines()]


def test_nothing_is_captured_by_default(make_monitor: Make) -> None:
    """Without capture_io, spans carry no inputs or outputs (spans.jsonl has them as null)."""
    monitor = make_monitor()

    @monitor.track("f")
    def f(x: int) -> int:
        return x

    assert f(1) == 1
    assert monitor.flush(10)
    (span,) = monitor.get_spans()
    assert (span.inputs, span.outputs) == (None, None)
    (line,) = lines_of(monitor)
    assert (line["inputs"], line["outputs"]) == (None, None)


def test_a_monitor_with_capture_io_keeps_arguments_by_name_and_the_return_value(make_monitor: Make) -> None:
    """Sync and async functions and methods: inputs by parameter name (self left out), the return value as outputs."""
    monitor = make_monitor(capture_io=True)
    agent = Agent()
    agent.answer = monitor.track("answer", span_type="AGENT")(agent.answer)  # type: ignore[method-assign]

    @monitor.track("shapes")
    def shapes(point: Point, request: Request, *rest: Any, **options: Any) -> tuple[Point, bytes]:
        return point, b"\x00\x01"

    @monitor.track("async_call")
    async def async_call(n: int) -> list[int]:
        await asyncio.sleep(0)
        return [n, n + 1]

    assert agent.answer("why", context=["a", "b"])["text"] == "WHY"
    shapes(Point(1, 2), Request("hi", 0.2), 7, flag=True)
    assert asyncio.run(async_call(3)) == [3, 4]
    assert monitor.flush(10)
    spans = {s.name: s for s in monitor.get_spans()}
    assert spans["answer"].inputs == {"question": "why", "context": ["a", "b"]}
    assert spans["answer"].outputs == {"text": "WHY", "sources": ["a", "b"]}
    assert spans["shapes"].inputs == {
        "point": {"x": 1, "y": 2},
        "request": {"prompt": "hi", "temperature": 0.2},
        "rest": [7],
        "options": {"flag": True},
    }
    assert spans["shapes"].outputs == [{"x": 1, "y": 2}, "<2 bytes>"]
    assert (spans["async_call"].inputs, spans["async_call"].outputs) == ({"n": 3}, [3, 4])
    written = {line["name"]: line for line in lines_of(monitor)}
    assert written["answer"]["inputs"] == {"question": "why", "context": ["a", "b"]}


def test_a_failed_call_keeps_its_inputs_and_its_exception_as_outputs(make_monitor: Make) -> None:
    """A call that raises: inputs kept, outputs name the exception, which propagates unchanged."""
    monitor = make_monitor(capture_io=True)

    @monitor.track("fails")
    def fails(item: str) -> None:
        raise ValueError(f"bad {item}")

    with pytest.raises(ValueError, match="bad x"):
        fails("x")
    assert monitor.flush(10)
    (span,) = monitor.get_spans()
    assert span.inputs == {"item": "x"}
    assert span.outputs == {"exception": {"type": "ValueError", "message": "bad x"}}


def test_track_turns_capture_on_or_off_whatever_the_monitor_says(make_monitor: Make) -> None:
    """capture_io on track wins over the monitor's; None follows the monitor."""
    off = make_monitor()
    on = make_monitor(capture_io=True)
    off.track("on", capture_io=True)(lambda v: v)(1)
    on.track("off", capture_io=False)(lambda v: v)(2)
    on.track("default")(lambda v: v)(3)
    assert off.flush(10) and on.flush(10)
    assert off.get_spans()[0].inputs == {"v": 1}
    assert {s.name: s.inputs for s in on.get_spans()} == {"off": None, "default": {"v": 3}}


def test_set_inputs_and_set_outputs_work_in_any_block(make_monitor: Make) -> None:
    """set_inputs / set_outputs record what they are given even with capture off, and win over the captured ones."""
    monitor = make_monitor()
    with monitor.track("block") as span:
        span.set_inputs({"messages": [{"role": "user", "content": "hi"}]})
        span.set_outputs("hello")
    capturing = make_monitor(capture_io=True)

    @capturing.track("explicit")
    def explicit(x: int) -> int:
        span = capturing.current_span()
        assert span is not None
        span.set_inputs("overridden in")
        span.set_outputs("overridden out")
        return x

    explicit(5)
    assert monitor.flush(10) and capturing.flush(10)
    (block,) = monitor.get_spans()
    assert (block.inputs, block.outputs) == ({"messages": [{"role": "user", "content": "hi"}]}, "hello")
    (over,) = capturing.get_spans()
    assert (over.inputs, over.outputs) == ("overridden in", "overridden out")


def test_values_are_cut_to_capture_max_chars_keeping_their_structure(make_monitor: Make) -> None:
    """Long text ends with its length, long lists and dicts with a count of what was left out; the JSON stays small."""
    monitor = make_monitor(capture_io=True, capture_max_chars=200)

    @monitor.track("big")
    def big(text: str, items: list[int], table: dict[str, int]) -> str:
        return text

    big("x" * 5000, list(range(1000)), {f"k{i}": i for i in range(1000)})
    assert monitor.flush(10)
    (span,) = monitor.get_spans()
    assert len(orjson.dumps(span.inputs)) <= 200 + 64 and len(orjson.dumps(span.outputs)) <= 200 + 64
    assert span.outputs.endswith("... (5000 chars)")
    assert span.inputs["text"].endswith("... (5000 chars)")
    assert "items" not in span.inputs or str(span.inputs["items"][-1]).endswith("more items)")


def test_jsonable_converts_objects_cuts_cycles_and_never_raises() -> None:
    """Objects become plain data; a cycle or a broken __repr__ is named, not followed or raised."""

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    loop: list[Any] = [1]
    loop.append(loop)
    out = jsonable({"loop": loop, "broken": Broken(), "big": 2**70, "error": KeyError("k")}, 1000)
    assert out["loop"] == [1, "<list>"]
    assert out["broken"].startswith("<Broken (repr failed")
    assert out["big"] == str(2**70)
    assert out["error"] == {"type": "KeyError", "message": "'k'"}
    orjson.dumps(out)  # JSON-ready throughout


def test_secrets_are_redacted_by_default_and_a_hook_can_do_more(make_monitor: Make) -> None:
    """The default hook blanks secret-looking keys; a custom hook sees the JSON-ready value; a failing hook keeps nothing."""
    default = make_monitor(capture_io=True)
    default.track("call")(lambda api_key, headers, max_tokens: "ok")(
        "sk-live-123", {"Authorization": "Bearer t0k3n"}, max_tokens=10
    )

    def mask(value: Any) -> Any:
        return json.loads(json.dumps(redact_secrets(value)).replace("alice@example.com", "<email>"))

    custom = make_monitor(capture_io=True, capture_redact=mask)
    custom.track("call")(lambda to: None)("alice@example.com")

    def broken(value: Any) -> Any:
        raise RuntimeError("hook bug")

    failing = make_monitor(capture_io=True, capture_redact=broken)
    failing.track("call")(lambda password: None)("hunter2")
    for monitor in (default, custom, failing):
        assert monitor.flush(10)
    assert default.get_spans()[0].inputs == {
        "api_key": "<redacted>",
        "headers": {"Authorization": "<redacted>"},
        "max_tokens": 10,
    }
    assert custom.get_spans()[0].inputs == {"to": "<email>"}
    assert failing.get_spans()[0].inputs == "<redaction failed: RuntimeError>"
    for monitor in (default, custom, failing):
        text = (monitor.log_dir / "spans.jsonl").read_text()
        assert "sk-live-123" not in text and "t0k3n" not in text and "hunter2" not in text and "alice@" not in text


def test_serialisation_happens_on_the_span_worker_and_lists_are_copied_at_the_call(
    make_monitor: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller only keeps references (its list and dict arguments copied one level); the worker serialises."""
    threads: list[str] = []
    resolve = CapturePolicy.resolve

    def spying(self: CapturePolicy, value: Any, record: Any = None) -> Any:
        threads.append(threading.current_thread().name)
        return resolve(self, value, record)

    monkeypatch.setattr(CapturePolicy, "resolve", spying)
    monitor = make_monitor(capture_io=True)
    messages = [{"role": "user", "content": "first"}]

    @monitor.track("chat")
    def chat(messages: list[dict[str, str]]) -> str:
        return "answer"

    chat(messages)
    messages.append({"role": "assistant", "content": "answer"})  # the caller's loop goes on
    assert threads == []  # nothing serialised on this thread
    assert monitor.flush(10)
    assert set(threads) == {"genmon-spans"}
    (span,) = monitor.get_spans()
    assert span.inputs == {"messages": [{"role": "user", "content": "first"}]}


def test_calls_from_threads_each_keep_their_own_inputs_and_outputs(make_monitor: Make) -> None:
    """4 threads x 100 captured calls, all 4 in flight at once, each thread reusing one argument list: 400 spans,
    each with its own thread's values."""
    monitor = make_monitor(capture_io=True)
    inside = threading.Barrier(4, timeout=30)  # every call waits for the other threads' calls to be open too

    @monitor.track("work", span_type="TOOL")
    def work(worker: int, batch: list[int]) -> dict[str, Any]:
        inside.wait()
        return {"worker": worker, "total": sum(batch), "batch": list(batch)}

    def run(worker: int) -> None:
        batch: list[int] = []  # one list per thread, changed between calls: each span keeps it as it was at its call
        for i in range(100):
            batch[:] = [worker, i]
            work(worker, batch)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert monitor.flush(30)
    spans = monitor.get_spans()
    assert len(spans) == 400
    for span in spans:
        worker, i = span.inputs["batch"]
        assert span.inputs == {"worker": worker, "batch": [worker, i]}
        assert span.outputs == {"worker": worker, "total": worker + i, "batch": [worker, i]}
    assert sorted(tuple(span.inputs["batch"]) for span in spans) == [(w, i) for w in range(4) for i in range(100)]
    written = lines_of(monitor)
    assert sorted((line["call_id"], str(line["inputs"]), str(line["outputs"])) for line in written) == sorted(
        (span.call_id, str(span.inputs), str(span.outputs)) for span in spans
    )


def test_generation_events_carry_the_serialised_inputs_and_outputs(make_monitor: Make) -> None:
    """generation_start has the inputs (serialised on the callback lane), generation_end the span with both."""
    monitor = make_monitor(capture_io=True)
    seen: list[Event] = []
    monitor.on(["generation_start", "generation_end"], seen.append)

    @monitor.track("double")
    def double(n: int) -> int:
        return 2 * n

    double(21)
    assert monitor.flush(10)
    start, end = seen
    assert (start.name, start.data["inputs"]) == ("generation_start", {"n": 21})
    assert end.span is not None and (end.span.inputs, end.span.outputs) == ({"n": 21}, 42)
    assert end.data["outputs"] == 42


def test_bad_capture_keywords_are_refused_at_construction(make_monitor: Make) -> None:
    """capture_io, capture_max_chars and capture_redact are checked before any thread starts."""
    with pytest.raises(TypeError, match="capture_io"):
        make_monitor(capture_io="yes")
    with pytest.raises(ValueError, match="capture_max_chars"):
        make_monitor(capture_max_chars=3)
    with pytest.raises(TypeError, match="capture_redact"):
        make_monitor(capture_redact="secrets")
    monitor = make_monitor()
    with pytest.raises(TypeError, match="capture_io"):
        monitor.track("x", capture_io=1)


def test_the_pending_values_never_reach_a_record_a_handler_sees() -> None:
    """materialise replaces every Pending; a record without captures is passed through as the same object."""
    from genmon.records.spans import SpanRecord

    policy = CapturePolicy()
    plain = SpanRecord("a", None, "n", "LLM", 1.0, 0.1, True)
    assert policy.materialise(plain) is plain
    pending = plain._replace(inputs=capture.Pending("value", {"k": (1, 2)}), outputs=capture.Pending("value", None))
    done = policy.materialise(pending)
    assert (done.inputs, done.outputs) == ({"k": [1, 2]}, None)
