"""Trace ids on spans: a fresh trace per root call tree, or the application's OpenTelemetry trace when one is current."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from genmon import GenerationMonitor
from genmon.monitor.tracking.trace_context import root_trace

Make = Callable[..., GenerationMonitor]


def _spans(monitor: GenerationMonitor) -> dict[str, Any]:
    monitor.sync_store()
    return {span.name: span for span in monitor.get_spans()}


def _hex(text: str | None, digits: int) -> bool:
    return text is not None and len(text) == digits and int(text, 16) != 0


def test_each_root_call_tree_gets_a_fresh_trace_id_its_children_share(make_monitor: Make) -> None:
    """Two root calls get two different 32-hex-digit trace ids; a child shares its root's and has no app parent."""
    monitor = make_monitor()
    with monitor.track("first", span_type="CHAIN"), monitor.track("child"):
        pass
    with monitor.track("second"):
        pass
    spans = _spans(monitor)
    first, child, second = spans["first"], spans["child"], spans["second"]
    assert _hex(first.trace_id, 32) and _hex(second.trace_id, 32)
    assert first.trace_id != second.trace_id
    assert child.trace_id == first.trace_id and child.parent_call_id == first.call_id
    assert (first.parent_span_id, child.parent_span_id, second.parent_span_id) == (None, None, None)
    assert first.to_dict()["trace_id"] == first.trace_id  # spans.jsonl and the HTTP sink carry it


def test_a_root_call_inside_an_application_span_joins_its_trace(make_monitor: Make) -> None:
    """Inside a span of the app's OpenTelemetry tracing, a root call takes its trace id and that span as parent."""
    pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()  # not installed globally: start_as_current_span sets the current context only
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("app")
    monitor = make_monitor()
    with (
        tracer.start_as_current_span("handle_request"),
        monitor.track("plan", span_type="AGENT"),
        monitor.track("chat"),
    ):
        pass
    with monitor.track("after"):
        pass
    provider.shutdown()
    (request,) = exporter.get_finished_spans()
    spans = _spans(monitor)
    app_trace, app_span = f"{request.context.trace_id:032x}", f"{request.context.span_id:016x}"
    assert spans["plan"].trace_id == app_trace and spans["plan"].parent_span_id == app_span
    # The child keeps its genmon parent; its trace is the app's too.
    assert spans["chat"].trace_id == app_trace and spans["chat"].parent_span_id is None
    assert spans["chat"].parent_call_id == spans["plan"].call_id
    assert spans["after"].trace_id != app_trace and spans["after"].parent_span_id is None


def test_a_root_call_in_a_bare_thread_starts_its_own_trace(make_monitor: Make) -> None:
    """A thread started without the caller's context sees no current span: its call is a new root and trace."""
    monitor = make_monitor()
    with monitor.track("outer"):
        worker = threading.Thread(target=_track_once, args=(monitor, "in_thread"))
        worker.start()
        worker.join()
    spans = _spans(monitor)
    assert spans["in_thread"].parent_call_id is None
    assert spans["in_thread"].trace_id != spans["outer"].trace_id


def _track_once(monitor: GenerationMonitor, name: str) -> None:
    with monitor.track(name):
        pass


def test_a_broken_or_spanless_opentelemetry_never_fails_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that raises, or an invalid current span, gives a fresh trace; the call itself is unaffected."""

    def broken() -> Any:
        raise RuntimeError("half imported")

    monkeypatch.setitem(sys.modules, "opentelemetry.trace", types.SimpleNamespace(get_current_span=broken))
    trace_id, parent = root_trace()
    assert _hex(trace_id, 32) and parent is None
    invalid = types.SimpleNamespace(is_valid=False, trace_id=0, span_id=0)
    spanless = types.SimpleNamespace(get_span_context=lambda: invalid)
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", types.SimpleNamespace(get_current_span=lambda: spanless))
    trace_id, parent = root_trace()
    assert _hex(trace_id, 32) and parent is None


def test_tracking_never_imports_opentelemetry() -> None:
    """An application that does not use OpenTelemetry never gets it imported by tracked calls."""
    code = (
        "import sys, tempfile, genmon\n"
        "with genmon.GenerationMonitor(log_dir=tempfile.mkdtemp(), metrics_interval=0) as monitor:\n"
        "    with monitor.track('a'), monitor.track('b'):\n"
        "        pass\n"
        "    monitor.sync_store()\n"
        "    ids = {s.trace_id for s in monitor.get_spans()}\n"
        "print(len(ids), [m for m in sys.modules if m.startswith('opentelemetry')])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "1 []"
