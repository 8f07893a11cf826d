"""How batches reach handlers: batch calls where offered, else afterimage's per-record calls (metrics, logs, spans).

One bad record never takes its batch with it. A batch method
(``handle_batch``, ``handle_span_batch``) that fails with an encoding error
(``TypeError``, ``ValueError``, ``OverflowError``, ``RecursionError``) is
called again record by record, so it should be all-or-nothing; per-record
methods (``handle_metric``, ``handle_log``, ``handle_span``) are called for
every record whatever the others do. What still fails is reported as
``RecordsDropped`` with its count, so every record is accounted for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genmon.errors import RecordsDropped
from genmon.records.spans import SpanRecord
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import ENCODING_ERRORS

Stop = Callable[[], bool] | None


def call_batch(method: Callable[[list[Any]], Any], records: list[Any], stop: Stop = None) -> None:
    """``method(records)``; on an encoding error, again record by record, counting what still fails."""
    try:
        method(records)
        return
    except RecordsDropped:
        raise
    except ENCODING_ERRORS:
        if len(records) == 1:
            raise
    each_record((lambda record: method([record])), records, "unserialisable", stop)


def each_record(
    call: Callable[[Any], Any], records: list[Any], reason: str = "handler_error", stop: Stop = None
) -> None:
    """``call(record)`` for every record; the failures are raised at the end as one ``RecordsDropped``.

    ``stop()`` turning true (a lane given up at the close deadline) ends the
    loop: the handler is called no more.
    """
    counts: dict[str, int] = {}
    first: BaseException | None = None
    total = len(records)
    for index, record in enumerate(records):
        if stop is not None and stop():
            counts["close_timeout"] = total - index
            first = first or TimeoutError("the close deadline passed")
            break
        try:
            call(record)
        except RecordsDropped as error:
            for key, n in error.counts.items():
                counts[key] = counts.get(key, 0) + n
            first = first or error
        except Exception as error:  # noqa: BLE001 - one bad record must not hide the others
            key = reason if isinstance(error, ENCODING_ERRORS) or reason == "handler_error" else "handler_error"
            counts[key] = counts.get(key, 0) + 1
            first = first or error
    if first is not None:
        dropped = sum(counts.values())
        raise RecordsDropped(f"{dropped} of {total} records failed: {type(first).__name__}: {first}", counts)


def deliver_logs(handler: Any, records: list[dict[str, Any]], stop: Stop = None) -> None:
    batch = getattr(handler, "handle_batch", None)
    if batch is not None:
        call_batch(batch, records, stop)
        return
    # A copy per call, because handlers (afterimage's included) may mutate it.
    each_record(lambda record: handler.handle_log(message=dict(record)), records, stop=stop)


class MetricDelivery:
    """Sends a batch of points to one handler; one instance per thread (its ISO cache)."""

    def __init__(self) -> None:
        self._iso = IsoFormatter()

    def __call__(
        self, handler: Any, points: list[tuple[str, float, float, dict[str, Any] | None]], stop: Stop = None
    ) -> None:
        batch = getattr(handler, "handle_batch", None)
        if batch is not None:
            call_batch(batch, points, stop)
            return
        iso = self._iso

        def one(point: tuple[str, float, float, dict[str, Any] | None]) -> None:
            name, value, ts, meta = point
            metadata = dict(meta) if meta else {}
            metadata["timestamp"] = iso(ts)
            handler.handle_metric(metric_name=name, value=value, metadata=metadata)

        each_record(one, points, stop=stop)


def has_span_method(handler: Any) -> bool:
    """True for a handler that takes spans (``handle_span`` or ``handle_span_batch``)."""
    return callable(getattr(handler, "handle_span", None)) or callable(getattr(handler, "handle_span_batch", None))


def deliver_spans(handler: Any, spans: list[SpanRecord], stop: Stop = None) -> None:
    """Send a batch to a handler: ``handle_span_batch`` when it has one, else ``handle_span`` per span."""
    batch = getattr(handler, "handle_span_batch", None)
    if batch is not None:
        call_batch(batch, spans, stop)
        return
    each_record(handler.handle_span, spans, stop=stop)


def make_span_deliver() -> Any:
    """The pipeline's ``make_deliver``: span delivery keeps no per-thread state."""
    return deliver_spans
