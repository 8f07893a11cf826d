"""monitor.track: spans, parents across tasks and threads, exceptions, usage, cost."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from genmon import GenerationMonitor, MonitorClosedError
from genmon.monitor.tracking.usage import PriceTable, read_usage
from genmon.testing import CapturingLogHandler, ManualClock

Make = Callable[..., GenerationMonitor]


def by_name(monitor: GenerationMonitor) -> dict[str, Any]:
    monitor.sync_store()
    return {span.name: span for span in monitor.get_spans()}


def test_context_manager_records_span_and_generation_metrics(make_monitor: Make, clock: ManualClock) -> None:
    """A tracked block records the track_generation metrics with operation, component, model and span type."""
    monitor = make_monitor(clock=clock)
    with monitor.track("answer", span_type="chat_model", model_name="gpt-4o", component="Gen", topic="math") as span:
        clock.advance(2)
        span.set_usage(prompt_tokens=10, completion_tokens=20)
    monitor.sync_store()
    (record,) = monitor.get_spans()
    assert record.name == record.operation == "answer"
    assert (record.span_type, record.model_name, record.component) == ("CHAT_MODEL", "gpt-4o", "Gen")
    assert record.start == clock() - 2 and record.success is True and record.parent_call_id is None
    assert (record.prompt_tokens, record.completion_tokens, record.total_tokens) == (10, 20, 30)
    assert record.metadata == {"topic": "math"}
    assert span.success is True and span.duration_s == record.duration_s
    expected = {
        "operation": "answer",
        "span_type": "CHAT_MODEL",
        "model_name": "gpt-4o",
        "component": "Gen",
        "topic": "math",
    }
    for name, value in [
        ("generation_time", record.duration_s),
        ("success_rate", 1.0),
        ("error_rate", 0.0),
        ("model_usage:gpt-4o", 1.0),
        ("prompt_token_count", 10.0),
        ("completion_token_count", 20.0),
        ("total_token_count", 30.0),
    ]:
        series = monitor.store.series(name)
        assert series is not None and series.values.tolist() == [value], name
        assert series.metadata() == [expected], name
    usage = monitor.get_total_token_usage()
    assert [(m.model_name, m.prompt_tokens, m.completion_tokens) for m in usage.by_model] == [("gpt-4o", 10, 20)]


def test_exception_is_recorded_and_reraised_unchanged(tmp_path: Any) -> None:
    """The body's exception propagates as the same object; the span, metrics and log record it."""
    logs = CapturingLogHandler()
    error = KeyError("missing key")
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0, log_handlers=[logs]) as monitor:
        with pytest.raises(KeyError) as caught, monitor.track("lookup", span_type="TOOL"):
            raise error
        assert caught.value is error
        (span,) = [s for s in by_name(monitor).values()]
        assert (span.success, span.exception_type, span.exception_message) == (False, "KeyError", "'missing key'")
        assert monitor.get_metrics("error_rate")["mean"] == 1.0
        assert monitor.get_metrics("success_rate")["mean"] == 0.0
        series = monitor.store.series("error_rate")
        assert series is not None and series.metadata()[0]["error_type"] == "KeyError"
        monitor.flush()
        assert any(r["level"] == "error" and r["error_type"] == "KeyError" for r in logs.records)


def test_decorator_sync_async_and_bare(make_monitor: Make) -> None:
    """@track works on sync and async functions, bare or called, and keeps the function's name and result."""
    monitor = make_monitor()

    @monitor.track("sync_op", span_type="TOOL")
    def add(a: int, b: int) -> int:
        return a + b

    @monitor.track
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert add(2, 3) == 5 and add.__name__ == "add"
    assert asyncio.run(fetch(4)) == 8 and fetch.__name__ == "fetch"
    spans = by_name(monitor)
    assert spans["sync_op"].span_type == "TOOL"
    assert spans[fetch.__qualname__].span_type == "LLM"


def test_async_decorator_reraises_and_records(make_monitor: Make) -> None:
    """An async tracked function that raises re-raises the same exception and records a failed span."""
    monitor = make_monitor()
    error = RuntimeError("429 rate limited")

    @monitor.track("call")
    async def call() -> None:
        raise error

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(call())
    assert caught.value is error
    span = by_name(monitor)["call"]
    assert (span.success, span.exception_type, span.exception_message) == (False, "RuntimeError", "429 rate limited")


def test_nested_spans_get_their_parents_sync_and_async_context_managers(make_monitor: Make) -> None:
    """Nested with / async with blocks name the enclosing call as parent and restore it on exit."""
    monitor = make_monitor()

    async def run() -> None:
        async with monitor.track("outer", span_type="AGENT") as outer:
            assert monitor.current_span() is outer
            with monitor.track("inner", span_type="TOOL") as inner:
                assert monitor.current_span() is inner
            assert monitor.current_span() is outer
        assert monitor.current_span() is None

    asyncio.run(run())
    spans = by_name(monitor)
    assert spans["inner"].parent_call_id == spans["outer"].call_id
    assert spans["outer"].parent_call_id is None


def test_asyncio_tasks_inherit_the_enclosing_span(make_monitor: Make) -> None:
    """Tasks created inside a span are its children; concurrent siblings never parent each other."""
    monitor = make_monitor()
    step = monitor.track("step", span_type="LLM")  # one tracker shared by concurrent tasks

    async def child(i: int) -> str:
        async with step as span:
            await asyncio.sleep(0)  # interleave the siblings inside their spans
            with monitor.track(f"leaf{i}", span_type="TOOL"):
                await asyncio.sleep(0)
            return span.call_id

    async def run() -> tuple[str, list[str]]:
        async with monitor.track("root", span_type="CHAIN") as root:
            ids = await asyncio.gather(*(asyncio.create_task(child(i)) for i in range(3)))
        return root.call_id, ids

    root_id, step_ids = asyncio.run(run())
    monitor.sync_store()
    steps = monitor.get_spans(name="step")
    assert sorted(s.call_id for s in steps) == sorted(step_ids) and len(set(step_ids)) == 3
    assert all(s.parent_call_id == root_id for s in steps)
    for i, step_id in enumerate(step_ids):
        (leaf,) = monitor.get_spans(name=f"leaf{i}")
        assert leaf.parent_call_id == step_id


def test_threads_see_the_parent_only_when_the_context_is_passed_on(make_monitor: Make) -> None:
    """A thread run with copy_context().run (or asyncio.to_thread) is a child; a bare thread starts a root."""
    monitor = make_monitor()

    def work(name: str) -> None:
        with monitor.track(name, span_type="TOOL"):
            pass

    with monitor.track("parent", span_type="CHAIN") as parent:
        context = contextvars.copy_context()
        passed = threading.Thread(target=context.run, args=(work, "with_context"))
        bare = threading.Thread(target=work, args=("without_context",))
        for thread in (passed, bare):
            thread.start()
            thread.join()

    async def via_to_thread() -> str:
        async with monitor.track("async_parent", span_type="CHAIN") as span:
            await asyncio.to_thread(work, "to_thread")
            return span.call_id

    async_parent = asyncio.run(via_to_thread())
    spans = by_name(monitor)
    assert spans["with_context"].parent_call_id == parent.call_id
    assert spans["without_context"].parent_call_id is None
    assert spans["to_thread"].parent_call_id == async_parent


OPENAI_OBJECT = SimpleNamespace(
    model="gpt-4o-mini",
    usage=SimpleNamespace(prompt_tokens=11, completion_tokens=22, total_tokens=33),
    choices=[SimpleNamespace(finish_reason="stop")],
)
ANTHROPIC_OBJECT = SimpleNamespace(
    model="claude-3-5-sonnet", stop_reason="end_turn", usage=SimpleNamespace(input_tokens=11, output_tokens=22)
)


@pytest.mark.parametrize(
    ("response", "model", "reason"),
    [
        (OPENAI_OBJECT, "gpt-4o-mini", "stop"),
        (ANTHROPIC_OBJECT, "claude-3-5-sonnet", "end_turn"),
        ({"model": "m", "usage": {"prompt_tokens": 11, "completion_tokens": 22}}, "m", None),
        ({"usage": {"input_tokens": 11, "output_tokens": 22}, "stop_reason": "max_tokens"}, None, "max_tokens"),
        ({"prompt_tokens": 11, "completion_tokens": 22}, None, None),
        ({"prompt_token_count": 11, "completion_token_count": 22, "finish_reason": "stop"}, None, "stop"),
        (SimpleNamespace(usage_metadata=SimpleNamespace(prompt_token_count=11, candidates_token_count=22)), None, None),
    ],
    ids=["openai", "anthropic", "openai_dict", "anthropic_dict", "flat_dict", "afterimage", "gemini"],
)
def test_set_result_reads_usage_from_each_response_shape(
    make_monitor: Make, response: Any, model: Any, reason: Any
) -> None:
    """set_result reads prompt and completion tokens (and model, finish reason) from each response shape."""
    monitor = make_monitor()
    with monitor.track("call") as span:
        assert span.set_result(response) is response
    (record,) = [s for s in by_name(monitor).values()]
    assert (record.prompt_tokens, record.completion_tokens, record.model_name) == (11, 22, model)
    assert span.finish_reason == reason
    assert monitor.get_metrics("total_token_count")["sum"] == 33.0
    if reason is not None:
        assert monitor.get_metrics(f"finish_reason:{reason}")["count"] == 1


def test_decorated_function_usage_is_read_from_its_return_value(make_monitor: Make) -> None:
    """A decorated function returning a response records its usage without any call in the body."""
    monitor = make_monitor()

    @monitor.track("complete")
    def complete() -> Any:
        return ANTHROPIC_OBJECT

    complete()
    span = by_name(monitor)["complete"]
    assert (span.prompt_tokens, span.completion_tokens, span.model_name) == (11, 22, "claude-3-5-sonnet")


def test_read_usage_ignores_what_is_not_a_count() -> None:
    """Mock-like attributes, negative or non-integral counts and plain values give no usage."""
    assert read_usage("text") == read_usage(None) == read_usage(42) == read_usage({})
    assert read_usage({"usage": {"prompt_tokens": -1, "completion_tokens": 2.5}}).prompt_tokens is None
    assert read_usage({"usage": {"prompt_tokens": True}}).prompt_tokens is None
    assert read_usage(SimpleNamespace(usage=SimpleNamespace(prompt_tokens="12"))).prompt_tokens is None


def test_price_table_derives_cost_and_set_cost_overrides(make_monitor: Make) -> None:
    """cost_usd comes from the price table (exact name, or a dated/versioned release of a priced model) unless set."""
    monitor = make_monitor(prices={"sim": (1.0, 2.0), "sim-large": {"prompt": 3.0, "completion": 6.0}})
    with monitor.track("a", model_name="sim-large-2025") as span:
        span.set_usage(prompt_tokens=1000, completion_tokens=500)
    with monitor.track("b", model_name="sim-2025-01-01") as span:
        span.set_usage(prompt_tokens=1000, completion_tokens=1000)
    with monitor.track("c", model_name="sim-small") as span:
        span.set_usage(prompt_tokens=1000)
        span.set_cost(0.25)
    with monitor.track("d", model_name="unpriced") as span:
        span.set_usage(prompt_tokens=1000)
    spans = by_name(monitor)
    assert [spans[n].cost_usd for n in "abcd"] == [6.0, 3.0, 0.25, None]
    series = monitor.store.series("cost_usd")
    assert series is not None and series.values.tolist() == [6.0, 3.0, 0.25]
    assert [m["model_name"] for m in series.metadata()] == ["sim-large-2025", "sim-2025-01-01", "sim-small"]
    with monitor.track("e", model_name="sim-small") as span:  # another model, not a release of "sim"
        span.set_usage(prompt_tokens=1000)
    assert by_name(monitor)["e"].cost_usd is None


def test_price_table_rejects_bad_prices() -> None:
    """Prices must be two finite non-negative numbers per model."""
    with pytest.raises(ValueError):
        PriceTable({"m": (-1.0, 1.0)})
    with pytest.raises(TypeError):
        PriceTable({"m": 0.5})
    assert PriceTable({"m": (1.0, 1.0)}).cost("m", None, None) is None


def test_bad_arguments_are_refused_at_the_call(make_monitor: Make) -> None:
    """Unknown span types, reserved metadata keys, bad token counts and generator functions raise at once."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match="span_type"):
        monitor.track("x", span_type="BOGUS")
    with pytest.raises(TypeError):
        monitor.track("x", payload=object())
    with pytest.raises(TypeError):
        monitor.track("")
    with monitor.track("x") as span:
        with pytest.raises(ValueError):
            span.set_usage(prompt_tokens=-3)
        with pytest.raises(TypeError):
            span.set_usage(completion_tokens=True)
        with pytest.raises(ValueError):
            span.set_cost(-1)
        with pytest.raises(ValueError, match="model_name"):
            span.set_metadata(model_name="other")
    with pytest.raises(TypeError, match="generator function"):

        @monitor.track("gen")
        def gen() -> Any:
            yield 1


def test_set_metadata_and_model_reach_span_and_points(make_monitor: Make) -> None:
    """set_metadata and set_model in the body are part of the span and of its points' metadata."""
    monitor = make_monitor()
    with monitor.track("x", stage="draft") as span:
        span.set_metadata(attempt=2)
        span.set_model("sim-small")
    record = by_name(monitor)["x"]
    assert record.metadata == {"stage": "draft", "attempt": 2} and record.model_name == "sim-small"
    series = monitor.store.series("generation_time")
    assert series is not None and series.metadata()[0]["attempt"] == 2


def test_tracking_after_close_raises(make_monitor: Make) -> None:
    """A tracked call on a closed monitor raises MonitorClosedError before running the body."""
    monitor = make_monitor()
    ran = []

    @monitor.track("late")
    def late() -> None:
        ran.append(1)

    monitor.close()
    with pytest.raises(MonitorClosedError):
        late()
    assert ran == []


def test_call_ids_are_unique(make_monitor: Make) -> None:
    """Every tracked call gets its own call_id."""
    monitor = make_monitor()
    tracked = monitor.track("x")(lambda: None)
    for _ in range(500):
        tracked()
    monitor.sync_store()
    assert len({s.call_id for s in monitor.get_spans()}) == 500


def test_a_span_left_from_another_task_is_recorded(make_monitor: Make) -> None:
    """`async with track()` in an async generator resumed by different tasks still records its span."""
    monitor = make_monitor()

    async def stream():
        async with monitor.track("stream"):
            for i in range(3):
                yield i

    async def consume() -> list[int]:
        items, iterator = [], stream()
        while True:
            try:
                items.append(await asyncio.wait_for(iterator.__anext__(), 10))  # each step in a new task
            except StopAsyncIteration:
                return items

    assert asyncio.run(consume()) == [0, 1, 2]
    assert monitor.flush(10)
    [span] = monitor.get_spans(name="stream")
    assert span.success
