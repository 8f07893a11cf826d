"""How batches reach handlers: batch calls where offered, else afterimage's per-record calls (metrics, logs, spans)."""

from __future__ import annotations

from typing import Any

from genmon.records.spans import SpanRecord
from genmon.records.timefmt import IsoFormatter


class LogRecords:
    """Turns queued log tuples (ts, level, message, data) into afterimage-shaped dicts."""

    def __init__(self) -> None:
        self._iso = IsoFormatter()

    def __call__(self, batch: list[tuple[float, str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
        iso = self._iso
        return [
            {"message": message, **data, "level": level, "timestamp": iso(ts)} for ts, level, message, data in batch
        ]


def deliver_logs(handler: Any, records: list[dict[str, Any]]) -> None:
    batch = getattr(handler, "handle_batch", None)
    if batch is not None:
        batch(records)
        return
    for record in records:
        # Each record is its own call so one bad record cannot hide the others;
        # a copy, because handlers (afterimage's included) may mutate it.
        handler.handle_log(message=dict(record))


class MetricDelivery:
    """Sends a batch of points to one handler; one instance per thread (its ISO cache)."""

    def __init__(self) -> None:
        self._iso = IsoFormatter()

    def __call__(self, handler: Any, points: list[tuple[str, float, float, dict[str, Any] | None]]) -> None:
        batch = getattr(handler, "handle_batch", None)
        if batch is not None:
            batch(points)
            return
        iso = self._iso
        first_error = None
        for name, value, ts, meta in points:
            metadata = dict(meta) if meta else {}
            metadata["timestamp"] = iso(ts)
            try:
                handler.handle_metric(metric_name=name, value=value, metadata=metadata)
            except Exception as error:  # noqa: BLE001 - keep delivering the rest of the batch
                first_error = first_error or error
        if first_error is not None:
            raise first_error


def has_span_method(handler: Any) -> bool:
    """True for a handler that takes spans (``handle_span`` or ``handle_span_batch``)."""
    return callable(getattr(handler, "handle_span", None)) or callable(getattr(handler, "handle_span_batch", None))


def deliver_spans(handler: Any, spans: list[SpanRecord]) -> None:
    """Send a batch to a handler: ``handle_span_batch`` when it has one, else ``handle_span`` per span."""
    batch = getattr(handler, "handle_span_batch", None)
    if batch is not None:
        batch(spans)
        return
    first_error = None
    for span in spans:
        try:
            handler.handle_span(span)
        except Exception as error:  # noqa: BLE001 - one bad span must not hide the rest of the batch
            first_error = first_error or error
    if first_error is not None:
        raise first_error


def make_span_deliver() -> Any:
    """The pipeline's ``make_deliver``: span delivery keeps no per-thread state."""
    return deliver_spans
