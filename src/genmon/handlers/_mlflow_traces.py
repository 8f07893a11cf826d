"""genmon spans as MLflow traces: grouping finished spans into traces, and their MLflow form.

Spans finish children first, so ``SpanTrees`` holds a span until its root
(a span with no parent) arrives, then releases the whole call tree. With
``split_units`` (MlflowHandler's default, ``trace_per="unit"``) a call tree
that holds a batch (``genmon.records.units``: ``attach``'s ``generate``
running one ``generate_conversation`` per item) becomes one trace per unit
of work plus one short trace of the batch call itself; each unit's trace is
tagged ``genmon.batch_call_id`` and ``genmon.batch_trace_id`` (the batch's
trace), and the batch's trace ``genmon.units`` (how many). Otherwise the
whole call tree is one trace. A span whose trace was already sent (a child
finishing after its parent) joins that trace. ``drain()`` releases what still
waits (at the final close, or past ``max_waiting``) as partial traces, each
headed by a topmost waiting span.

Ids are the OTLP handler's (``genmon.handlers._trace_ids``): span ids from
call ids; a call tree kept whole has its root's trace id, the one OTLP
sends; a trace headed by another call (a unit, a partial tree) is anchored
at that call. Every trace is tagged ``genmon.trace_id``, the call tree's
trace id as OTLP sends it.

``trace_entities`` builds MLflow ``Span`` and ``TraceInfo`` entities directly
(from the span dict format MLflow persists), so they are logged through a
``TracingClient`` bound to the handler's tracking URI on the handler's own
thread: no global tracer provider, no global tracking URI, and no MLflow
background export queue whose exit drain could hang.
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from genmon.handlers._mlflow_support import classify
from genmon.handlers._retry import RetryableError
from genmon.handlers._trace_ids import anchored_trace_id, span_id, trace_id
from genmon.records.units import units_of_work

MAX_WAITING_SPANS = 10_000
MAX_REMEMBERED_SPANS = 10_000
PREVIEW_CHARS = 1000  # what MLflow keeps of a trace's request and response previews (its OSS limit)


def _int(raw: bytes) -> int:
    return int.from_bytes(raw, "big")


def _span_id(call_id: str) -> int:
    return _int(span_id(call_id))


@dataclass
class Tree:
    """Spans released together: a new trace, or a late part of a trace already sent.

    ``members`` holds ``(span, span_id, parent_span_id)``, the top first (it
    heads the trace), the rest in start order; the top's parent is None in a
    new trace and its sent parent in a late part.
    """

    trace_id: int
    members: list[tuple[Any, int, int | None]]
    new: bool = True
    tags: dict[str, str] = field(default_factory=dict)


class SpanTrees:
    """Groups finished spans into traces; bounded by ``max_waiting`` held spans.

    Args:
        split_units: one trace per unit of work (a batch call apart) instead of one per call tree.
        max_waiting: spans held for their root at most; past it they are released as partial traces.
        max_remembered: sent spans remembered so that late children join their trace.
    """

    def __init__(
        self,
        split_units: bool = False,
        max_waiting: int = MAX_WAITING_SPANS,
        max_remembered: int = MAX_REMEMBERED_SPANS,
    ) -> None:
        self.split_units = split_units
        self.max_waiting = max_waiting
        self._waiting: dict[str, Any] = {}
        self._children: dict[str, list[str]] = {}
        # call_id -> trace id of spans already sent, for late children; trace ids used, for reuse.
        self._sent: OrderedDict[str, int] = OrderedDict()
        self._used: OrderedDict[int, None] = OrderedDict()
        self._max_remembered = max_remembered
        self.partial_traces = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, spans: list[Any]) -> list[Tree]:
        """Take a batch; return the traces (or late parts of sent traces) now complete."""
        out: list[Tree] = []
        for span in spans:
            parent = span.parent_call_id
            if parent is None:
                out.extend(self._release(span, _int(trace_id(span))))
            elif parent in self._sent:
                members = self._collect(span)
                out.append(Tree(self._sent[parent], self._members(members, _span_id(parent)), new=False))
                self._remember(members, self._sent[parent])
            else:
                self._waiting[span.call_id] = span
                self._children.setdefault(parent, []).append(span.call_id)
        if len(self._waiting) > self.max_waiting:
            out.extend(self.drain())  # a safety valve: memory stays bounded, trees may split
        return out

    def drain(self) -> list[Tree]:
        """Release every waiting span as partial traces headed by the topmost waiting spans."""
        heads = [s for s in self._waiting.values() if s.parent_call_id not in self._waiting]
        out = []
        for head in heads:
            out.extend(self._release(head, _int(anchored_trace_id(head.call_id))))
        self.partial_traces += len(heads)
        return out

    def _release(self, top: Any, trace: int) -> list[Tree]:
        """``top`` and its waiting descendants as new traces: one, or one per unit plus the batch's."""
        spans = self._collect(top)
        if trace in self._used:  # two root calls in one application span share its trace id
            trace = _int(anchored_trace_id(top.call_id))
        tags = {"genmon.trace_id": top.trace_id} if top.trace_id else {}
        units, children, batches = units_of_work(spans, getattr) if self.split_units else ([], {}, [])
        if not batches:
            return [self._new_tree(spans, trace, tags)]
        batch_tags = {**tags, "genmon.units": str(len(units))}
        out = [self._new_tree(batches, trace, batch_tags)]
        for unit in units:
            subtree, pending = [], [unit]
            while pending:
                span = pending.pop()
                subtree.append(span)
                pending.extend(children.get(span.call_id, ()))
            unit_tags = {
                **tags,
                "genmon.batch_call_id": str(unit.parent_call_id),
                "genmon.batch_trace_id": f"tr-{trace:032x}",
            }
            out.append(self._new_tree(subtree, _int(anchored_trace_id(unit.call_id)), unit_tags))
        return out

    def _new_tree(self, spans: list[Any], trace: int, tags: dict[str, str]) -> Tree:
        self._used[trace] = None
        if len(self._used) > self._max_remembered:
            self._used.popitem(last=False)
        self._remember(spans, trace)
        return Tree(trace, self._members(spans, None), tags=tags)

    def _collect(self, top: Any) -> list[Any]:
        """``top`` then its waiting descendants, taken out of the waiting room."""
        self._waiting.pop(top.call_id, None)
        out, stack = [], [top]
        while stack:
            span = stack.pop()
            out.append(span)
            for child_id in self._children.pop(span.call_id, ()):
                child = self._waiting.pop(child_id, None)
                if child is not None:
                    stack.append(child)
        return out

    @staticmethod
    def _members(spans: list[Any], top_parent: int | None) -> list[tuple[Any, int, int | None]]:
        """The spans with their ids, the first one heading them (parent ``top_parent``), the rest in start order."""
        top, rest = spans[0], sorted(spans[1:], key=lambda s: s.start)
        members: list[tuple[Any, int, int | None]] = [(top, _span_id(top.call_id), top_parent)]
        members += [(s, _span_id(s.call_id), _span_id(s.parent_call_id)) for s in rest]
        return members

    def _remember(self, spans: list[Any], trace: int) -> None:
        for span in spans:
            self._sent[span.call_id] = trace
        while len(self._sent) > self._max_remembered:
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
    for name in ("model_name", "component", "prompt_tokens", "completion_tokens", "cost_usd"):
        value = getattr(span, name)
        if value is not None:
            attrs[f"genmon.{name}"] = value
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


TRACE_TAG_PREFIX = "mlflow.traceTag."  # root-span attributes MLflow's span logging turns into trace tags
MAX_LINKS_PER_CALL = 100  # MLflow's MAX_TRACE_LINKS_PER_REQUEST


def trace_entities(tree: Tree, experiment_id: str, run_id: str | None) -> tuple[Any, list[Any]]:
    """(TraceInfo, [Span]) for a tree; a late part of a sent trace needs no new TraceInfo (``tree.new``).

    A new trace's tags also ride on its head span as ``mlflow.traceTag.<key>``
    attributes, so a store that builds trace infos from logged spans keeps them.
    """
    from mlflow.entities import Span, TraceInfo, TraceLocation, TraceState

    head = tree.members[0][0]
    tags = {"mlflow.traceName": head.name, "genmon.root_call_id": head.call_id, **tree.tags}
    spans = []
    for span, sid, pid in tree.members:
        entry = span_dict(span, tree.trace_id, sid, pid)
        if tree.new and span is head:
            entry["attributes"].update({f"{TRACE_TAG_PREFIX}{k}": _json(v) for k, v in tags.items()})
        spans.append(Span.from_dict(entry))
    metadata = {"mlflow.trace_schema.version": "3"}
    if run_id is not None:
        metadata["mlflow.sourceRun"] = run_id
    info = TraceInfo(
        trace_id=f"tr-{tree.trace_id:032x}",
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=int(head.start * 1000),
        state=TraceState.OK if head.success else TraceState.ERROR,
        request_preview=preview(getattr(head, "inputs", None)),
        response_preview=preview(getattr(head, "outputs", None)),
        execution_duration=int(head.duration_s * 1000),
        trace_metadata=metadata,
        tags=tags,
    )
    return info, spans


class TraceWriter:
    """Logs trees through a ``TracingClient``: in a few requests a batch where the store allows, else one a trace.

    An MLflow store that logs spans itself (MLflow 3.4 and newer, with a
    database) builds each trace's info from its spans, and recent ones keep
    the tags carried by the head span: then one ``log_spans`` request per batch
    and one run link per 100 traces are enough (a job of 120 conversations:
    about 1 s instead of 6-10 s). The first batch checks that the store kept a
    tag; if not (an older server), every new trace is also started on its own
    (``start_trace``), as are all of them on a store that cannot log spans.
    """

    def __init__(self, tracing: Any) -> None:
        self.tracing = tracing
        self.batched: bool | None = None  # None until the first batch tells

    def log(self, experiment_id: str, run_id: str | None, trees: list[Tree]) -> tuple[int, int]:
        """Log the trees' spans and their new traces; return (new traces, spans)."""
        entities = [(tree, *trace_entities(tree, experiment_id, run_id)) for tree in trees]
        spans = [span for _, _, tree_spans in entities for span in tree_spans]
        new = [(info, tree_spans) for tree, info, tree_spans in entities if tree.new]
        try:
            self.tracing.log_spans(experiment_id, spans)
        except NotImplementedError:  # a store without span logging: the spans go to trace artifacts
            self.batched = False
            self._start_each(new, spans_in_store=False)
            return len(new), len(spans)
        if new and self.batched is not False and self._link_and_check(run_id, [info.trace_id for info, _ in new]):
            return len(new), len(spans)
        self._start_each(new, spans_in_store=True)
        return len(new), len(spans)

    def _link_and_check(self, run_id: str | None, trace_ids: list[str]) -> bool:
        """Link the new traces to the run; True when the store kept the tags (checked once)."""
        try:
            if run_id is not None:
                for start in range(0, len(trace_ids), MAX_LINKS_PER_CALL):
                    self.tracing.store.link_traces_to_run(trace_ids[start : start + MAX_LINKS_PER_CALL], run_id)
            if self.batched is None:
                self.batched = "genmon.root_call_id" in self.tracing.get_trace_info(trace_ids[0]).tags
        except Exception as error:  # a transient failure is retried; any other means an older store
            if isinstance(classify(error, 0), RetryableError):
                raise
            self.batched = False
        return bool(self.batched)

    def _start_each(self, new: list[tuple[Any, list[Any]]], spans_in_store: bool) -> None:
        from mlflow.entities import TraceData

        for info, tree_spans in new:
            returned = self.tracing.start_trace(info)
            in_store = returned.tags.get("mlflow.trace.spansLocation") == "TRACKING_STORE"
            if not (spans_in_store and in_store):
                self.tracing._upload_trace_data(returned, TraceData(spans=tree_spans))
