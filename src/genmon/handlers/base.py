"""The handler contracts: what a sink fed by the monitor's workers must offer.

``handle_metric`` and ``handle_log`` are afterimage's protocols and are
called with keywords. The optional methods are used when present:
``handle_batch(points)`` receives a whole batch at once, ``flush(timeout_s)``
and ``close(timeout_s)`` take part in the monitor's lifecycle.

A metric handler that also has ``handle_span`` (or ``handle_span_batch``)
receives every finished tracked call as well, on its own lane of the span
pipeline (see ``SpanHandler``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from genmon.records.types import MetricPoint, RunInfo

if TYPE_CHECKING:
    from pathlib import Path

    from genmon.monitor.store.series_data import SeriesData
    from genmon.records.spans import SpanRecord

__all__ = [
    "BatchMetricHandler",
    "FlushableHandler",
    "HandlerContext",
    "LogHandler",
    "MetricHandler",
    "MetricPoint",
    "MonitorBoundHandler",
    "SpanHandler",
    "bind_handlers",
]


@runtime_checkable
class MetricHandler(Protocol):
    """A sink for metric points."""

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        """Handle one point; ``metadata`` includes ``timestamp`` as an ISO-8601 string."""


@runtime_checkable
class LogHandler(Protocol):
    """A sink for log records."""

    def handle_log(self, message: dict[str, Any]) -> None:
        """Handle one log record: ``message``, ``level``, ``timestamp`` and its data keys."""


@runtime_checkable
class BatchMetricHandler(Protocol):
    """A metric sink that takes whole batches (used instead of ``handle_metric``)."""

    def handle_batch(self, points: list[MetricPoint]) -> None:
        """Handle a batch of points in recording order; do not mutate the list."""


@runtime_checkable
class FlushableHandler(Protocol):
    """A handler that buffers and can be flushed and closed by the monitor."""

    def flush(self, timeout_s: float) -> None:
        """Push out everything buffered, within ``timeout_s``."""

    def close(self, timeout_s: float) -> None:
        """Flush and release resources, within ``timeout_s``."""


@runtime_checkable
class SpanHandler(Protocol):
    """A sink for spans (finished tracked calls), e.g. an MLflow or HTTP handler.

    The monitor finds span handlers among its ``metric_handlers``: each one
    with ``handle_span`` gets its own lane (bounded queue and thread) on the
    span pipeline, so it can delay only itself; ``flush`` and ``close`` are
    called as for metric handlers. ``handle_span_batch(spans)``, when
    present, is called instead with a whole batch.

    Each span is a ``genmon.records.spans.SpanRecord``, an immutable
    NamedTuple shared by every handler (do not mutate its ``metadata``):

    - ``call_id`` (str), ``parent_call_id`` (str or None for a root span)
    - ``name`` (the operation; ``operation`` is an alias), ``span_type`` (LLM,
      CHAT_MODEL, AGENT, TOOL, RETRIEVER, EMBEDDING, EVALUATOR, CHAIN,
      RERANKER, PARSER or UNKNOWN)
    - ``start`` (epoch seconds), ``duration_s``, ``end`` (property), ``success`` (bool)
    - ``model_name``, ``component`` (str or None)
    - ``prompt_tokens``, ``completion_tokens`` (int or None), ``total_tokens`` (property)
    - ``cost_usd`` (float or None)
    - ``exception_type``, ``exception_message`` (str or None; set when the call raised)
    - ``metadata`` (dict or None: ``track``'s ``**metadata`` and ``set_metadata`` items)
    - ``finish_reason``, ``response_model`` (str or None; read from the response)
    - ``trace_id`` (32 hex digits, shared by a call tree; the application's OpenTelemetry
      trace when one was current where the root call started), ``parent_span_id``
      (16 hex digits: that application span, on a root call only)

    ``span.to_dict()`` gives all fields as a JSON-ready dict (the line shape
    of spans.jsonl, which adds an ISO-8601 ``timestamp`` of the start).
    """

    def handle_span(self, span: SpanRecord) -> None:
        """Handle one finished tracked call."""


class ErrorCounts(Protocol):
    """Where a handler reports a failure it handled itself (a batch given up after retries)."""

    def record(self, handler_name: str, error: BaseException) -> None: ...


@runtime_checkable
class HandlerContext(Protocol):
    """What the monitor shows a handler that asks for it (``bind_monitor``): no more than a sink needs."""

    @property
    def errors(self) -> ErrorCounts:
        """``errors.record(name, error)`` counts a failure in ``stats()["handler_errors"]`` and logs it (rate-limited)."""
        ...

    @property
    def log_dir(self) -> Path:
        """The run directory."""
        ...

    @property
    def run(self) -> RunInfo:
        """The run's name, tags and config (``GenerationMonitor(run_name=, tags=, config=)``)."""
        ...

    def close_deadline(self) -> float | None:
        """The ``time.monotonic()`` deadline of the monitor's close once it started, else None."""
        ...

    def lanes_of(self, handler: Any) -> int:
        """How many of the monitor's pipelines feed ``handler`` (its ``close`` is called once per pipeline)."""
        ...

    def stored_snapshot(self) -> list[SeriesData]:
        """Copies of every retained point, once the metric worker has stored what was recorded (bounded by the close)."""
        ...

    def stored_spans(self) -> list[SpanRecord]:
        """The finished spans the monitor keeps (the latest 100,000), once the span worker stored what was recorded."""
        ...

    def recent_alerts(self) -> list[dict[str, Any]]:
        """The latest 1,000 alerts fired or resolved, as the log holds them (``alert``, ``level``, ``message``, ``data``...)."""
        ...


@runtime_checkable
class MonitorBoundHandler(Protocol):
    """A handler that wants to know its monitor (to report errors, or read the store at close)."""

    def bind_monitor(self, context: HandlerContext) -> None:
        """Called once by the monitor's constructor, after its threads started."""


def bind_handlers(context: HandlerContext, handlers: list[Any]) -> None:
    """Call ``bind_monitor(context)`` once on each distinct handler that has it."""
    seen: set[int] = set()
    for handler in handlers:
        bind = getattr(handler, "bind_monitor", None)
        if id(handler) in seen or not callable(bind):
            continue
        seen.add(id(handler))
        try:
            bind(context)
        except Exception as error:  # noqa: BLE001 - a handler's bug must not fail the monitor's constructor
            context.errors.record(getattr(handler, "name", None) or type(handler).__name__, error)
