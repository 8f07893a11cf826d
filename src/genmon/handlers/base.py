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

if TYPE_CHECKING:
    from genmon.monitor.spans import SpanRecord

# (metric_name, value, timestamp as epoch seconds, metadata or None)
MetricPoint = tuple[str, float, float, "dict[str, Any] | None"]


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

    Each span is a ``genmon.monitor.spans.SpanRecord``, an immutable
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

    ``span.to_dict()`` gives all fields as a JSON-ready dict (the line shape
    of spans.jsonl, which adds an ISO-8601 ``timestamp`` of the start).
    """

    def handle_span(self, span: SpanRecord) -> None:
        """Handle one finished tracked call."""


@runtime_checkable
class MonitorBoundHandler(Protocol):
    """A handler that wants its monitor (e.g. to read the store at close, or report errors)."""

    def bind_monitor(self, monitor: Any) -> None:
        """Called once by the monitor's constructor, after its threads started."""


def bind_handlers(monitor: Any, handlers: list[Any]) -> None:
    """Call ``bind_monitor(monitor)`` once on each distinct handler that has it."""
    seen: set[int] = set()
    for handler in handlers:
        bind = getattr(handler, "bind_monitor", None)
        if id(handler) in seen or not callable(bind):
            continue
        seen.add(id(handler))
        try:
            bind(monitor)
        except Exception as error:  # noqa: BLE001 - a handler's bug must not fail the monitor's constructor
            monitor.errors.record(getattr(handler, "name", None) or type(handler).__name__, error)
