"""genmon spans as MLflow traces: grouping finished spans into call trees, and their MLflow form.

Spans finish children first, so ``SpanTrees`` holds a span until its root
(a span with no parent) arrives, then releases the whole tree as one trace.
A span whose root was already sent (a child finishing after its parent)
joins that trace. ``drain()`` releases what still waits (at the final close)
as partial traces, each headed by its topmost waiting span.

``trace_entities`` builds MLflow ``Span`` and ``TraceInfo`` entities directly
(from the span dict format MLflow persists), so they are logged through a
``TracingClient`` bound to the handler's tracking URI on the handler's own
thread: no global tracer provider, no global tracking URI, and no MLflow
background export queue whose exit drain could hang.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import OrderedDict
from typing import Any

MAX_WAITING_SPANS = 10_000
MAX_REMEMBERED_SPANS = 10_000
PREVIEW_CHARS = 1000  # what MLflow keeps of a trace's request and response previews (its OSS limit)

# A tree: (trace_id as int, [(span, span_id, parent_span_id or None), ...]), its top span first;
# the top's parent_span_id is None for a new trace, set for a late part of a trace already sent.
Tree = tuple[int, list[tuple[Any, int, "int | None"]]]


class SpanTrees:
    """Groups finished spans into trees; bounded by ``max_waiting`` held spans."""

    def __init__(self, max_waiting: int = MAX_WAITING_SPANS, max_remembered: int = MAX_REMEMBERED_SPANS) -> None:
        self.max_waiting = max_waiting
        self._waiting: dict[str, Any] = {}
        self._children: dict[str, list[str]] = {}
        # call_id -> (trace_id, span_id) of spans already sent, for late children.
        self._sent: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._max_remembered = max_remembered
        self.partial_traces = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, spans: list[Any]) -> list[Tree]:
        """Take a batch; return the trees (or late parts of sent trees) now complete."""
        out: list[Tree] = []
        for span in spans:
            parent = span.parent_call_id
            if parent is None:
                out.append(self._release(span, secrets.randbits(128) or 1, None))
            elif parent in self._sent:
                trace_id, parent_span_id = self._sent[parent]
                out.append(self._release(span, trace_id, parent_span_id))
            else:
                self._waiting[span.call_id] = span
                self._children.setdefault(parent, []).append(span.call_id)
        if len(self._waiting) > self.max_waiting:
            out.extend(self.drain())  # a safety valve: memory stays bounded, trees may split
        return out

    def drain(self) -> list[Tree]:
        """Release every waiting span as partial traces headed by the topmost waiting spans."""
        heads = [s for s in self._waiting.values() if s.parent_call_id not in self._waiting]
        out = [self._release(head, secrets.randbits(128) or 1, None) for head in heads]
        self.partial_traces += len(out)
        return out

    def _release(self, top: Any, trace_id: int, parent_span_id: int | None) -> Tree:
        self._waiting.pop(top.call_id, None)
        members: list[tuple[Any, int, int | None]] = []
        stack = [(top, parent_span_id)]
        while stack:
            span, parent_id = stack.pop()
            span_id = secrets.randbits(64) or 1
            members.append((span, span_id, parent_id))
            self._remember(span.call_id, trace_id, span_id)
            for child_id in self._children.pop(span.call_id, ()):
                child = self._waiting.pop(child_id, None)
                if child is not None:
                    stack.append((child, span_id))
        # The top first (it heads the trace), the rest in start order.
        return trace_id, members[:1] + sorted(members[1:], key=lambda m: m[0].start)

    def _remember(self, call_id: str, trace_id: int, span_id: int) -> None:
        self._sent[call_id] = (trace_id, span_id)
        if len(self._sent) > self._max_remembered:
            self._sent.popitem(last=False)


def _b64(value: int, size: int) -> str:
    return base64.b64encode(value.to_bytes(size, "big")).decode()


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def span_attributes(span: Any, trace_id_text: str) -> dict[str, str]:
    """The span's MLflow attributes (values JSON-encoded, as MLflow stores them)."""
    attrs: dict[str, Any] = {
        "mlflow.traceRequestId": trace_id_text,
        "mlflow.spanType": span.span_type,
        "genmon.call_id": span.call_id,
        "genmon.parent_call_id": span.parent_call_id,
        "genmon.duration_s": span.duration_s,
        "genmon.success": span.success,
    }
    for field in ("model_name", "component", "prompt_tokens", "completion_tokens", "cost_usd"):
        value = getattr(span, field)
        if value is not None:
            attrs[f"genmon.{field}"] = value
    if span.model_name:
        attrs["mlflow.llm.model"] = span.model_name
    if span.prompt_tokens is not None or span.completion_tokens is not None:
        # MLflow's own usage key: the UI and the trace's token totals read it.
        attrs["mlflow.chat.tokenUsage"] = {
            "input_tokens": span.prompt_tokens or 0,
            "output_tokens": span.completion_tokens or 0,
            "total_tokens": (span.prompt_tokens or 0) + (span.completion_tokens or 0),
        }
    if span.cost_usd is not None:
        attrs["mlflow.llm.cost"] = {"total_cost": span.cost_usd}
    # MLflow's own keys: the UI's Inputs / Outputs panes and span.inputs / span.outputs read them.
    if getattr(span, "inputs", None) is not None:
        attrs["mlflow.spanInputs"] = span.inputs
    if getattr(span, "outputs", None) is not None:
        attrs["mlflow.spanOutputs"] = span.outputs
    for key, value in (span.metadata or {}).items():
        attrs[f"genmon.metadata.{key}"] = value
    return {key: _json(value) for key, value in attrs.items()}


def preview(value: Any) -> str | None:
    """A trace's request or response preview: the value's text (JSON unless it is text), cut as MLflow cuts it."""
    if value is None:
        return None
    text = value if isinstance(value, str) else _json(value)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 3] + "..."


def span_dict(span: Any, trace_id: int, span_id: int, parent_span_id: int | None) -> dict[str, Any]:
    """One span in the dict format ``mlflow.entities.Span.from_dict`` reads."""
    start_ns = int(span.start * 1e9)
    end_ns = start_ns + max(int(span.duration_s * 1e9), 0)
    events = []
    if not span.success:
        events.append(
            {
                "name": "exception",
                "time_unix_nano": end_ns,
                "attributes": {
                    "exception.type": span.exception_type or "",
                    "exception.message": span.exception_message or "",
                },
            }
        )
    return {
        "trace_id": _b64(trace_id, 16),
        "span_id": _b64(span_id, 8),
        "parent_span_id": _b64(parent_span_id, 8) if parent_span_id is not None else None,
        "name": span.name,
        "start_time_unix_nano": start_ns,
        "end_time_unix_nano": end_ns,
        "events": events,
        "status": {
            "code": "STATUS_CODE_OK" if span.success else "STATUS_CODE_ERROR",
            "message": "" if span.success else (span.exception_type or "error"),
        },
        "attributes": span_attributes(span, f"tr-{trace_id:032x}"),
    }


def trace_entities(tree: Tree, experiment_id: str, run_id: str | None) -> tuple[Any, list[Any], bool]:
    """(TraceInfo, [Span], is_new_trace) for a tree; a late part of a sent trace has no new TraceInfo."""
    from mlflow.entities import Span, TraceInfo, TraceLocation, TraceState

    trace_id, members = tree
    spans = [Span.from_dict(span_dict(s, trace_id, sid, pid)) for s, sid, pid in members]
    head, _, head_parent = members[0]
    metadata = {"mlflow.trace_schema.version": "3"}
    if run_id is not None:
        metadata["mlflow.sourceRun"] = run_id
    info = TraceInfo(
        trace_id=f"tr-{trace_id:032x}",
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=int(head.start * 1000),
        state=TraceState.OK if head.success else TraceState.ERROR,
        request_preview=preview(getattr(head, "inputs", None)),
        response_preview=preview(getattr(head, "outputs", None)),
        execution_duration=int(head.duration_s * 1000),
        trace_metadata=metadata,
        tags={"mlflow.traceName": head.name, "genmon.root_call_id": head.call_id},
    )
    return info, spans, head_parent is None
