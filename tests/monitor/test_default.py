"""genmon.enable / track / attach / emit: one process-wide default monitor, and a switch that costs nothing when off."""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genmon
from genmon.monitor import default
from genmon.monitor.tracking import track as track_module
from genmon.monitor.tracking.span import current_span
from genmon.records.steps import point_step


@pytest.fixture(autouse=True)
def switched_off() -> Iterator[None]:
    """Each test starts and ends with no default monitor (the switch is process-wide)."""
    genmon.disable()
    yield
    genmon.disable()


@pytest.fixture
def no_tracking_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a span is started or a tracker is made anywhere."""

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("monitoring is off: no span may be started and no tracker made")

    monkeypatch.setattr(track_module.SpanRecorder, "start", forbidden)
    monkeypatch.setattr(track_module.SpanRecorder, "tracker", forbidden)


def enable(tmp_path: Path, **keywords: Any) -> genmon.GenerationMonitor:
    return genmon.enable(log_dir=tmp_path / "run", metrics_interval=0, **keywords)


@genmon.track("decorated_at_import", span_type="TOOL")
def decorated_at_import(x: int) -> int:
    """Decorated when this module was imported, before any monitor was enabled."""
    return x * 2


def test_while_off_track_does_no_work_and_returns_what_the_function_returns(no_tracking_work: None) -> None:
    """Off: a decorated function runs as it is, a block gets the one shared NoOpSpan, nothing is started or queued."""
    assert not genmon.is_enabled() and genmon.current_monitor() is None
    assert decorated_at_import(21) == 42

    @genmon.track("late", capture_io=True)
    def fails() -> None:
        raise KeyError("unchanged")

    with pytest.raises(KeyError, match="unchanged"):
        fails()
    with genmon.track("block", model_name="m") as span:
        assert span is default.NOOP_SPAN and not span and current_span() is None
        span.set_usage(prompt_tokens=3)
        span.set_inputs({"q": 1})
        assert span.set_result("response") == "response"

    async def main() -> str:
        @genmon.track
        async def coroutine() -> str:
            return "async ok"

        async with genmon.track("async block") as block_span:
            assert block_span is default.NOOP_SPAN
        return await coroutine()

    assert asyncio.run(main()) == "async ok"
    genmon.emit("my.event", value=1)  # checked, then nothing


def test_bad_arguments_are_refused_at_the_call_even_while_off() -> None:
    """A bad track, attach or emit argument raises at its call whether or not a monitor is enabled."""
    with pytest.raises(TypeError, match="operation"):
        genmon.track(123)
    with pytest.raises(ValueError, match="span_type"):
        genmon.track("x", span_type="NOPE")
    with pytest.raises(TypeError, match="capture_io"):
        genmon.track("x", capture_io="yes")
    with pytest.raises(ValueError, match="emitted by genmon itself"):
        genmon.emit("generation_end")
    with pytest.raises(ValueError, match="event name"):
        genmon.emit("bad name!")
    with pytest.raises(ValueError, match="depth"):
        genmon.attach(object(), depth=-1)


def test_functions_decorated_before_enable_are_tracked_after_it_and_not_after_disable(tmp_path: Path) -> None:
    """Decorators bind late: enable() turns tracking on for them, disable() off again, and close drains."""
    assert decorated_at_import(1) == 2  # off: not tracked
    monitor = enable(tmp_path)
    assert genmon.is_enabled() and genmon.current_monitor() is monitor
    assert decorated_at_import(2) == 4
    with genmon.track("block", span_type="CHAIN") as span:
        assert span.call_id is not None and current_span() is span
        assert decorated_at_import(3) == 6
    assert monitor.flush(10)
    spans = monitor.get_spans()
    assert [s.name for s in spans] == ["decorated_at_import", "decorated_at_import", "block"]
    assert spans[1].parent_call_id == spans[2].call_id and spans[0].span_type == "TOOL"
    assert genmon.disable(10) is True and monitor.closed and not genmon.is_enabled()
    assert decorated_at_import(4) == 8
    lines = (tmp_path / "run" / "spans.jsonl").read_text().splitlines()
    assert len(lines) == 3


def test_enabling_twice_gives_the_same_monitor_for_the_same_arguments_and_an_error_for_others(tmp_path: Path) -> None:
    """Same arguments: the same monitor; other arguments: AlreadyEnabledError; after disable: a new monitor."""
    first = enable(tmp_path)
    assert enable(tmp_path) is first
    with pytest.raises(genmon.AlreadyEnabledError, match="disable"):
        genmon.enable(log_dir=tmp_path / "other", metrics_interval=0)
    assert genmon.current_monitor() is first
    genmon.disable()
    second = genmon.enable(log_dir=tmp_path / "other", metrics_interval=0)
    assert second is not first and first.closed


def test_a_closed_default_monitor_leaves_every_call_working_untracked(tmp_path: Path) -> None:
    """Closing the default monitor (as the exit hook does) turns the switch off; no call raises because of it."""
    monitor = enable(tmp_path)
    assert decorated_at_import(1) == 2
    assert monitor.close(10)
    assert not genmon.is_enabled() and genmon.current_monitor() is None
    assert decorated_at_import(5) == 10  # untracked, no MonitorClosedError
    with genmon.track("after close") as span:
        assert span is default.NOOP_SPAN
    genmon.emit("after.close")
    assert len(monitor.get_spans()) == 1


def test_threads_and_asyncio_tasks_record_to_the_default_monitor_with_their_parents(tmp_path: Path) -> None:
    """Threads see the default monitor; tasks inherit the current span; a copied context carries it into a thread."""
    monitor = enable(tmp_path)

    def work(i: int) -> None:
        for _ in range(25):
            decorated_at_import(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    @genmon.track("child")
    async def child(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def main() -> list[int]:
        async with genmon.track("parent", span_type="AGENT"):
            results = await asyncio.gather(*(asyncio.create_task(child(i)) for i in range(5)))
            with genmon.track("threaded parent") as parent:
                context = contextvars.copy_context()
                runner = threading.Thread(target=context.run, args=(decorated_at_import, 1))
                runner.start()
                runner.join()
                assert parent.call_id
            return list(results)

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert monitor.flush(10)
    assert len(monitor.get_spans(name="decorated_at_import", parent_call_id=None)) == 100
    (parent,) = monitor.get_spans(name="parent")
    assert {s.parent_call_id for s in monitor.get_spans(name="child")} == {parent.call_id}
    (threaded,) = monitor.get_spans(name="threaded parent")
    (inside,) = monitor.get_spans(name="decorated_at_import", parent_call_id=threaded.call_id)
    assert inside.trace_id == threaded.trace_id


EXIT_PROGRAM = """
import sys
import genmon

@genmon.track("job", span_type="CHAIN", capture_io=True)
def job(n):
    return n + 1

genmon.enable(log_dir=sys.argv[1], metrics_interval=0)
print(job(41))
# no disable(), no close(): the exit hook drains the default monitor
"""


def test_the_default_monitor_is_drained_at_interpreter_exit(tmp_path: Path) -> None:
    """A program that enables and exits without disable() still gets its span and points written."""
    script = tmp_path / "program.py"
    script.write_text(EXIT_PROGRAM)
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, str(script), str(run_dir)], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"
    (span,) = [json.loads(line) for line in (run_dir / "spans.jsonl").read_text().splitlines()]
    assert (span["name"], span["inputs"], span["outputs"]) == ("job", {"n": 41}, 42)
    metrics = {json.loads(line)["metric"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()}
    assert "generation_time" in metrics


class _Client:
    def complete(self, prompt: str) -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 2, "completion_tokens": 1}, "text": prompt}


class _Module:
    def __init__(self, client: _Client) -> None:
        self.client = client

    def run(self, prompt: str) -> str:
        return str(self.client.complete(prompt)["text"])


class _Program:
    def __init__(self) -> None:
        self.modules = [_Module(_Client()), _Module(_Client())]

    def generate(self, prompt: str) -> list[str]:
        return [module.run(prompt) for module in self.modules]


def test_module_level_attach_binds_late_and_reaches_the_depth_given(tmp_path: Path) -> None:
    """genmon.attach before enable(): calls run untracked until a monitor is enabled, then every level is tracked."""
    program = genmon.attach(_Program(), depth=2)
    assert program.generate("x") == ["x", "x"]
    monitor = enable(tmp_path)
    assert program.generate("y") == ["y", "y"]
    assert monitor.flush(10)
    by_name: dict[str, int] = {}
    for span in monitor.get_spans():
        by_name[span.name] = by_name.get(span.name, 0) + 1
    assert by_name == {"generate": 1, "run": 2, "complete": 2}
    (complete, _) = monitor.get_spans(name="complete")
    assert (complete.span_type, complete.prompt_tokens) == ("LLM", 2)


def test_module_level_emit_reaches_the_default_monitors_callbacks_with_the_callers_module(tmp_path: Path) -> None:
    """genmon.emit on an enabled default monitor delivers the event with this module as its source."""
    monitor = enable(tmp_path)
    seen: list[Any] = []
    monitor.on("retry", seen.append)
    genmon.emit("retry", attempt=2)
    genmon.emit("retry", attempt=3, source="my.client")
    assert monitor.flush(10)
    assert [(e.data, e.source) for e in seen] == [({"attempt": 2}, __name__), ({"attempt": 3}, "my.client")]


def test_module_level_track_takes_a_step_for_the_span_and_every_point_of_the_call(tmp_path: Path) -> None:
    """genmon.track(..., step=n): the span's metadata and each of the call's points carry step n, sync and async."""
    with pytest.raises(ValueError, match="step"):
        genmon.track("epoch", step=-1)  # checked like monitor.track's step, even while off
    with pytest.raises(TypeError, match="step"):
        genmon.track("epoch", step="3")
    monitor = enable(tmp_path)

    @genmon.track("train", span_type="CHAIN", step=3)
    def train() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": 5, "completion_tokens": 2}}

    async def evaluate() -> None:
        async with genmon.track("evaluate", span_type="EVALUATOR", step=5):
            await asyncio.sleep(0)

    train()
    with genmon.track("validate", span_type="EVALUATOR", step=4):
        pass
    asyncio.run(evaluate())
    assert monitor.flush(10)
    steps = {span.name: (span.metadata or {}).get("step") for span in monitor.get_spans()}
    assert steps == {"train": 3, "validate": 4, "evaluate": 5}
    monitor.sync_store()
    by_operation: dict[str, set[int | None]] = {}
    for name in monitor.store.names():
        series = monitor.store.series(name)
        assert series is not None
        for metadata in series.metadata():
            by_operation.setdefault((metadata or {})["operation"], set()).add(point_step(metadata))
    assert by_operation == {"train": {3}, "validate": {4}, "evaluate": {5}}
    assert {"generation_time", "prompt_token_count", "completion_token_count"} <= set(monitor.store.names())
