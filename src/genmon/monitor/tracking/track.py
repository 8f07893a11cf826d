"""Tracked calls: ``monitor.track(...)`` as a context manager, async context manager and decorator.

Each tracked call becomes a span: a ``call_id``, the ``parent_call_id`` of
the enclosing tracked call, a type, a start, a duration, success and the
exception. On exit it records the same points as ``track_generation``
(generation_time, success_rate, error_rate, model_usage:<model>, token
counts) plus ``cost_usd``, with operation, component, model_name and
span_type in their metadata, and puts the span on the span queue.

The enclosing call is found through a ``ContextVar``: it holds across
``await``, asyncio tasks inherit it when they are created, and a thread sees
it only when started with the context passed on
(``contextvars.copy_context().run``, ``asyncio.to_thread``, or an executor
given a copied context).
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from genmon.errors import MonitorClosedError
from genmon.monitor.tracking.arguments import check_decoratable, check_track_arguments
from genmon.monitor.tracking.call_points import CallPoints
from genmon.monitor.tracking.capture import CapturePolicy, Pending, call_inputs, signature_of, snapshot
from genmon.monitor.tracking.generation import error_text
from genmon.monitor.tracking.span import CURRENT, Span, current_span
from genmon.monitor.tracking.trace_context import root_trace
from genmon.monitor.tracking.usage import PriceTable
from genmon.records.spans import new_call_id
from genmon.records.steps import with_step
from genmon.records.validation import intern_metadata, pack_metadata

if TYPE_CHECKING:
    from genmon.monitor.engine.queueing import BoundedQueue
    from genmon.monitor.tracking.events import EventBus

__all__ = ["Span", "SpanRecorder", "Tracker", "current_span", "tracked_function"]

F = TypeVar("F", bound=Callable[..., Any])
_NO_RESULT: Any = object()
MAX_EXCEPTION_MESSAGE = 2000


class Tracker:
    """What ``monitor.track(...)`` returns: use it with ``with``, ``async with`` or as a decorator.

    It keeps no per-call state (the running span lives in a ContextVar), so
    one tracker may be entered by many threads and tasks at once.
    """

    __slots__ = ("_open", "capture", "component", "metadata", "model_name", "operation", "recorder", "span_type")

    def __init__(
        self,
        recorder: SpanRecorder,
        operation: str,
        span_type: str,
        model_name: str | None,
        component: str | None,
        metadata: dict[str, Any] | None,
        capture: bool = False,
    ) -> None:
        self.recorder = recorder
        self.operation = operation
        self.span_type = span_type
        self.model_name = model_name
        self.component = component
        self.metadata = metadata
        self.capture = capture  # inputs and outputs kept (see genmon.monitor.tracking.capture)
        self._open: list[Span] = []

    def __enter__(self) -> Span:
        span = self.recorder.start(self)
        self._open.append(span)
        return span

    def _leaving(self) -> Span | None:
        # The span of this block is the context's current one, unless the
        # block is left from another context (an async generator resumed by
        # another task): then it is this tracker's most recent open span.
        current = CURRENT.get()
        open_spans = self._open
        if open_spans and open_spans[-1] is current:  # the common case: the block opened last, here
            return open_spans.pop()
        span = current if any(s is current for s in open_spans) else (open_spans[-1] if open_spans else None)
        if span is not None:
            open_spans[:] = [s for s in open_spans if s is not span]
        return span

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        span = self._leaving()
        if span is not None:
            if exc is not None and self.capture and span.outputs is None:
                span.outputs = Pending("error", None)
            self.recorder.finish(span, exc)

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        """Decorate a sync or async function; usage is read from its return value."""
        return tracked_function(self.recorder, self, check_decoratable(fn))  # type: ignore[return-value]


def tracked_function(
    recorder: SpanRecorder,
    tracker: Tracker,
    fn: Callable[..., Any],
    model_from: Callable[[dict[str, Any]], str | None] | None = None,
    untracked_when_closed: bool = False,
) -> Callable[..., Any]:
    """``fn`` (sync or async) run inside a span; ``model_from`` may name the model from the call's keywords.

    With ``untracked_when_closed``, a call made once the monitor is closed
    runs untracked instead of raising ``MonitorClosedError`` (the default
    monitor's functions: monitoring must never fail the call).
    """
    start, record_finish = recorder.start, recorder.finish
    capture = tracker.capture
    signature = signature_of(fn) if capture else None

    def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Span | None:
        try:
            span = start(tracker, call_inputs(signature, args, kwargs) if capture else None)
        except MonitorClosedError:
            if untracked_when_closed:
                return None
            raise
        if model_from is not None:
            span.model_name = span.model_name or model_from(kwargs)
        return span

    if not capture and not untracked_when_closed and model_from is None:
        begin = lambda args, kwargs: start(tracker)  # the plain path: one call, nothing to check

    def finish(span: Span, exc: BaseException | None, result: Any = _NO_RESULT) -> None:
        if span.outputs is None:  # captured unless the body set its own
            span.outputs = Pending("error", None) if exc is not None else Pending("value", snapshot(result))
        record_finish(span, exc, result)

    if not capture:
        finish = record_finish  # type: ignore[assignment]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def tracked_async(*args: Any, **kwargs: Any) -> Any:
            span = begin(args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                finish(span, exc)
                raise
            finish(span, None, result)
            return result

        return tracked_async

    @functools.wraps(fn)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        span = begin(args, kwargs)
        if span is None:
            return fn(*args, **kwargs)
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            finish(span, exc)
            raise
        finish(span, None, result)
        return result

    return tracked


class SpanRecorder:
    """One monitor's tracking: turns finished spans into points, span records, logs and events.

    Args:
        metric_queue: the metric queue (a call's points go as one item).
        span_queue: the span queue (its ``closed`` flag refuses new calls).
        put_log: queues a log tuple ``(ts, level, message, data)`` without blocking.
        clock: epoch seconds.
        events: the monitor's event bus.
        prices: model to USD per 1k prompt and completion tokens.
        capture_io: capture inputs and outputs of the calls whose ``track`` does not say.
        capture: how captured values are serialised (redaction, size).
    """

    def __init__(
        self,
        metric_queue: BoundedQueue,
        span_queue: BoundedQueue,
        put_log: Callable[[Any], None],
        clock: Callable[[], float],
        events: EventBus,
        prices: PriceTable | Mapping[str, Any] | None = None,
        capture_io: bool = False,
        capture: CapturePolicy | None = None,
    ) -> None:
        self._put_metric = metric_queue.put
        self._put_group = metric_queue.put_several
        self._span_queue = span_queue
        self._put_log = put_log
        self._clock = clock
        self._subscribers = events.subscribers
        self._points = CallPoints()
        self._events = events
        self.prices = prices if isinstance(prices, PriceTable) else PriceTable(prices)
        self.capture_io = capture_io
        self.capture = capture or CapturePolicy()

    def tracker(
        self,
        operation: Any,
        span_type: str = "LLM",
        model_name: str | None = None,
        component: str | None = None,
        metadata: dict[str, Any] | None = None,
        capture_io: bool | None = None,
        step: Any = None,
    ) -> Any:
        """Validate ``track``'s arguments once, so each call pays nothing for them."""
        if callable(operation) and not isinstance(operation, str):  # bare @monitor.track
            return self.tracker(operation.__qualname__, span_type, model_name, component, metadata, capture_io, step)(
                operation
            )
        if step is not None:  # the step travels as the points' and the span's "step" metadata
            metadata = with_step(metadata, step)
        operation, span_type, model_name, component, checked, capture_io = check_track_arguments(
            operation, span_type, model_name, component, metadata, capture_io
        )
        capture = self.capture_io if capture_io is None else capture_io
        return Tracker(self, operation, span_type, model_name, component, checked, capture)

    def start(self, tracker: Tracker, inputs: Pending | None = None) -> Span:
        if self._span_queue.closed:
            raise MonitorClosedError("the monitor is closed: nothing more can be tracked")
        parent = CURRENT.get()
        if parent is None:
            # Looked up before the clock is read, so a root and its children spend the same time
            # between their start and their timer: a child never seems to end after its parent.
            trace_id, parent_span_id = root_trace()
            span = Span(tracker, new_call_id(), None, self._clock())
            span.trace_id, span.parent_span_id = trace_id, parent_span_id
        else:
            span = Span(tracker, new_call_id(), parent.call_id, self._clock())
            span.trace_id = parent.trace_id
        span._parent = parent
        if inputs is not None:
            span.inputs = inputs
        span._token = CURRENT.set(span)
        if self._subscribers["generation_start"]:
            self._emit_start(span)
        span._t0 = time.perf_counter()
        return span

    def finish(self, span: Span, exc: BaseException | None, result: Any = _NO_RESULT) -> None:
        duration = time.perf_counter() - span._t0
        try:
            CURRENT.reset(span._token)
        except ValueError:  # left from another context: that context never had it set
            pass
        span.duration_s = duration
        span.success = exc is None
        if exc is not None:
            try:
                self._record(span, duration, exc)
            except Exception:  # noqa: BLE001, S110 - the caller's exception must propagate unchanged
                pass
            return
        if (
            result is not _NO_RESULT
            and not span._child_usage
            and span.prompt_tokens is None
            and span.completion_tokens is None
        ):
            try:
                span.set_result(result)
            except Exception:  # noqa: BLE001, S110 - an odd response must not fail a call that worked
                pass
        parent = span._parent
        if parent is not None and (span.prompt_tokens is not None or span.completion_tokens is not None):
            parent._child_usage = True
        span._parent = None  # no chain of finished spans kept alive
        self._record(span, duration, None)

    def _record(self, span: Span, duration: float, exc: BaseException | None) -> None:
        prompt, completion = span.prompt_tokens, span.completion_tokens
        error_type = error_message = None
        if exc is not None:
            error_type = type(exc).__name__
            error_message = error_text(exc, MAX_EXCEPTION_MESSAGE)
        ts = self._clock()
        item: Any
        item, meta, cost_metas = self._points.group(span, duration, error_type, ts)
        cost, cost_source = span.cost_usd, span.cost_source
        if cost is None and self.prices:
            cost = self.prices.cost(span.model_name, prompt, completion)
            cost_source = "price_table"
        if cost is not None:
            # Where the figure came from, on the cost point only (the call's other points keep their shared metadata).
            # Interned: every call of one model and source shares the dict, so the files encode it once.
            cost_meta = cost_metas.get(cost_source or "")
            if cost_meta is None:
                cost_meta = cost_metas[cost_source or ""] = pack_metadata(
                    intern_metadata({**(meta or {}), "cost_source": cost_source})
                )
            self._put_metric([item, ("cost_usd", cost, ts, cost_meta)])  # one queue item
        else:
            self._put_group(item, item[4])  # a group of its count of points
        # A plain tuple in SpanRecord's field order, its metadata packed: the collector can untrack
        # it while it waits (records.spans). Every field is given, in order (tests check them).
        metadata = span.metadata
        record = (
            span.call_id,
            span.parent_call_id,
            span.name,
            span.span_type,
            span.start,
            duration,
            exc is None,
            span.model_name,
            span.component,
            prompt,
            completion,
            cost,
            error_type,
            error_message,
            pack_metadata(metadata) if metadata else metadata,
            span.finish_reason,
            span.response_model,
            span.trace_id,
            span.parent_span_id,
            span.inputs,
            span.outputs,
            cost_source if cost is not None else None,
        )
        # generation_end and generation_error are emitted by the span worker, once inputs and outputs are serialised.
        queue = self._span_queue  # BoundedQueue.put inlined: once a tracked call
        if queue.depth() < queue.limit:
            queue.enqueue(record)
        else:
            queue.put(record)
        if exc is not None:
            data = {"call_id": span.call_id, "operation": span.name, "error": error_message, "error_type": error_type}
            self._put_log((ts, "error", f"Tracked call {span.name} failed: {error_type}", data))

    def _emit_start(self, span: Span) -> None:
        data: dict[str, Any] = {
            "call_id": span.call_id,
            "parent_call_id": span.parent_call_id,
            "name": span.name,
            "span_type": span.span_type,
            "model_name": span.model_name,
            "component": span.component,
            "start": span.start,
        }
        if span.inputs is None:
            self._events.emit("generation_start", data)
        else:  # serialised on the callback lanes, never here
            data["inputs"] = span.inputs
            self._events.emit("generation_start", data, resolve=self._resolve_inputs)

    def _resolve_inputs(self, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "inputs": self.capture.resolve(data["inputs"])}
