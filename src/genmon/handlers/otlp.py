"""OtlpHandler: spans as OpenTelemetry traces (OTLP/HTTP protobuf), named by the GenAI semantic conventions.

Pass it in ``metric_handlers``: spans reach it on its own lane of the span
pipeline, and its own thread (``genmon.handlers._batching``) batches them,
encodes them with ``opentelemetry-proto`` and POSTs them to
``<endpoint>/v1/traces`` with retries and exact drop counts, like
``HttpHandler``. Where each span field goes is in ``_otlp_encoding``;
where the settings come from (keywords, then ``OTEL_*`` variables) in
``_otlp_config``. A tracked call that starts inside a span of the
application's own OpenTelemetry tracing joins that trace (see
``genmon.monitor.tracking.trace_context``). With ``metrics=True`` it also
exports the GenAI client histograms of model calls (``_otlp_metrics``) to
``/v1/metrics`` at every flush, close and ``metrics_interval``.

Needs ``pip install 'genmon[otlp]'`` (opentelemetry-proto).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Mapping
from typing import Any

from genmon._version import __version__
from genmon.handlers._batching import SinkError, Task
from genmon.handlers._extras import import_extra
from genmon.handlers._http_post import HttpPoster
from genmon.handlers._otlp_config import resolve, resolve_metrics, run_attributes
from genmon.handlers._remote import RemoteSink
from genmon.handlers._retry import _check_positive, close_timeout

# OTLP/HTTP: 429, 502, 503 and 504 are retryable; any other failure is not
# (https://opentelemetry.io/docs/specs/otlp/#failures-1).
OTLP_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_EXPORT_METRICS = "export-metrics"  # the Task payload that asks the sender thread for a metrics export


class PartiallyRejected(Exception):
    """The receiver accepted only part of a batch (OTLP partial success): the rest is counted as rejected."""

    def __init__(self, message: str, delivered: int) -> None:
        super().__init__(message)
        self.delivered = delivered  # read by the BatchSender: these records count as sent


class OtlpHandler(RemoteSink):
    """Exports spans to an OpenTelemetry receiver (Collector, Tempo, Jaeger, Langfuse, Phoenix, MLflow) over OTLP/HTTP.

    Every keyword left as None falls back to the standard environment
    variable (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_ENDPOINT``
    + ``/v1/traces``, ``..._HEADERS``, ``..._TIMEOUT`` in milliseconds,
    ``..._COMPRESSION``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``),
    then to the OTLP defaults (``http://localhost:4318/v1/traces``, 10 s).
    Keywords win; ``headers`` and ``resource_attributes`` are merged over the
    variables key by key. The monitor's run name, tags and config become
    resource attributes (``genmon.run.name``, ``genmon.run.tags.<k>``,
    ``genmon.run.config.<k>``).

    Args:
        endpoint: the full URL spans are POSTed to, e.g. ``http://collector:4318/v1/traces``.
        headers: request headers, e.g. ``{"x-mlflow-experiment-id": "1"}`` or an ``Authorization``.
        timeout: socket timeout in seconds of each request.
        service_name: the resource's ``service.name`` (default ``genmon``).
        resource_attributes: more resource attributes.
        compression: ``"gzip"`` or ``"none"``.
        provider_name: ``gen_ai.provider.name`` of model calls (``openai``, ``anthropic``...);
            a span's metadata key ``gen_ai.provider.name`` overrides it.
        metrics: also export the GenAI client metrics (``gen_ai.client.operation.duration``,
            ``gen_ai.client.token.usage``) of model calls to ``/v1/metrics``.
        metrics_endpoint: where metrics go; default: beside a ``.../v1/traces`` endpoint, else
            ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or the base endpoint + ``/v1/metrics``.
        metrics_interval: seconds between metrics exports while spans arrive (and one at each
            flush and close).
        batch_size, flush_interval, max_buffer, max_retries, backoff, max_backoff, name:
            as for ``HttpHandler``.

    Example:
        >>> sink = OtlpHandler("http://127.0.0.1:4318/v1/traces", service_name="generator")  # doctest: +SKIP
        >>> with GenerationMonitor(metric_handlers=[sink]) as monitor:  # doctest: +SKIP
        ...     with monitor.track("chat", model_name="gpt-4o") as span:
        ...         span.set_usage(prompt_tokens=12, completion_tokens=30)
        >>> sink.stats()["sent"]  # doctest: +SKIP
        1
    """

    def __init__(
        self,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        *,
        service_name: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        compression: str | None = None,
        provider_name: str | None = None,
        metrics: bool = False,
        metrics_endpoint: str | None = None,
        metrics_interval: float = 60.0,
        batch_size: int = 512,
        flush_interval: float = 5.0,
        max_buffer: int = 10_000,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        name: str = "OtlpHandler",
    ) -> None:
        self._keep_config(locals())
        import_extra("opentelemetry.proto.trace.v1.trace_pb2", "opentelemetry-proto", "otlp")
        from genmon.handlers import _otlp_encoding

        self._encoding = _otlp_encoding
        settings = resolve(endpoint, headers, timeout, compression, service_name, resource_attributes)
        public = {"Content-Type": "application/x-protobuf", "User-Agent": f"genmon/{__version__}"}
        if settings.compression == "gzip":
            public["Content-Encoding"] = "gzip"
        self._poster = HttpPoster(
            settings.traces_endpoint, settings.headers, settings.timeout_s, public, OTLP_RETRY_STATUSES
        )
        self.name = name
        self.endpoint = self._poster.endpoint
        self.timeout = self._poster.timeout
        self.compression = settings.compression
        self.provider_name = provider_name
        self.resource_attributes = dict(settings.resource)
        self._redactor = self._poster.redactor
        self._resource = _otlp_encoding.resource(self.resource_attributes)
        self._metrics: Any = None
        self.metrics_endpoint: str | None = None
        if metrics:
            self._start_metrics(endpoint, metrics_endpoint, headers, settings.timeout_s, public, metrics_interval)
        self._start_sender("otlp", self._send)

    def _start_metrics(
        self,
        endpoint: str | None,
        metrics_endpoint: str | None,
        headers: Mapping[str, str] | None,
        timeout_s: float,
        public: dict[str, str],
        interval: float,
    ) -> None:
        from genmon.handlers._otlp_metrics import GenAiMetrics

        self.metrics_interval = _check_positive(interval, "metrics_interval")
        url, metric_headers = resolve_metrics(endpoint, metrics_endpoint, headers)
        self._metrics_poster = HttpPoster(url, metric_headers, timeout_s, public, OTLP_RETRY_STATUSES)
        self.metrics_endpoint = self._metrics_poster.endpoint
        traces_redactor, metrics_redactor = self._poster.redactor, self._metrics_poster.redactor
        self._redactor = lambda text: metrics_redactor(traces_redactor(text))
        self._metrics = GenAiMetrics(self.provider_name)
        self._metrics_due = time.monotonic() + self.metrics_interval
        self.metrics_exports = 0
        self.metrics_failed_exports = 0
        self.metrics_last_error: str | None = None

    def __repr__(self) -> str:
        # Header names only: their values are secrets.
        return (
            f"OtlpHandler(endpoint={self.endpoint!r}, headers={sorted(self._poster.headers)!r}, timeout={self.timeout})"
        )

    def bind_monitor(self, context: Any) -> None:
        """Called by the monitor: its run name, tags and config join the resource attributes."""
        super().bind_monitor(context)
        self.resource_attributes.update(run_attributes(getattr(context, "run", None)))
        self._resource = self._encoding.resource(self.resource_attributes)

    # -- records in (the monitor's lanes; never blocks) ----------------------------------------
    def handle_span_batch(self, spans: list[Any]) -> None:
        """Finished spans (``SpanRecord``), buffered for the next request."""
        if not spans:
            return
        self._sender.put_many(spans)
        if self._metrics is not None:
            self._metrics.add(spans)
            now = time.monotonic()
            if now >= self._metrics_due:
                self._metrics_due = now + self.metrics_interval
                self._sender.put_task(_EXPORT_METRICS)

    def handle_batch(self, records: list[Any]) -> None:
        """Metric points and log records are not traces: ignored (the monitor feeds every metric handler)."""

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """Ignored, as ``handle_batch``."""

    # -- lifecycle -------------------------------------------------------------------------
    def flush(self, timeout_s: float | None = 5.0) -> bool:
        """Send what is buffered (and the metrics as they stand); True when all of it was resolved in time."""
        if self._metrics is not None:
            self._sender.put_task(_EXPORT_METRICS)
        return self._sender.flush(timeout_s)

    def close(self, timeout_s: float | None = 5.0) -> bool:
        """Send what is buffered (and the metrics) and stop the thread, never waiting past ``timeout_s``.

        Called by the monitor's lanes during ``monitor.close(timeout)``, it may
        use the rest of the monitor's deadline when that is longer.
        """
        if self._metrics is not None:
            self._sender.put_task(_EXPORT_METRICS)
        ok = self._sender.close(close_timeout(self._context, timeout_s))
        if self._sender.join(0):
            self._poster.close()
            if self._metrics is not None:
                self._metrics_poster.close()
        return ok

    def stats(self) -> dict[str, Any]:
        """received, sent, batches_sent, dropped (by reason), dropped_total, buffered, in_flight, retries, last_error.

        With ``metrics=True`` also ``metrics``: exports, failed_exports, last_error and spans_counted.
        """
        stats = self._sender.stats()
        if self._metrics is not None:
            stats["metrics"] = {
                "exports": self.metrics_exports,
                "failed_exports": self.metrics_failed_exports,
                "last_error": self.metrics_last_error,
                "spans_counted": self._metrics.spans_counted,
            }
        return stats

    # -- the sender thread ---------------------------------------------------------------
    def payload(self, spans: list[Any]) -> bytes:
        """The protobuf body (``ExportTraceServiceRequest``, uncompressed) for a batch of spans."""
        return self._encoding.encode_spans(spans, self._resource, self.provider_name)[0]

    def _send(self, batch: list[Any], budget_s: float | None) -> int:
        spans = [record for record in batch if type(record) is not Task]
        for task in batch:
            if type(task) is Task and task.payload == _EXPORT_METRICS:
                task.payload = None  # once, even when the spans of this batch are retried
                self._export_metrics(budget_s)
        if not spans:
            return 0
        body, left_out = self._encoding.encode_spans(spans, self._resource, self.provider_name)
        if not body:
            return left_out
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        answer = self._poster.post(body, budget_s)
        rejected, message = self._encoding.rejected_spans(answer)
        if rejected:
            sent = len(spans) - left_out
            rejected = min(rejected, sent)
            raise PartiallyRejected(
                f"POST {self.endpoint}: the receiver rejected {rejected} of {sent} spans: {message or 'no reason given'}",
                sent - rejected,
            )
        return left_out

    def _export_metrics(self, budget_s: float | None) -> None:
        # Metrics are cumulative: a failed export is made good by the next one, so it is
        # counted and reported, never retried here and never allowed to hold back spans.
        body = self._metrics.encode(self._resource)
        if not body:
            return
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        try:
            self._metrics_poster.post(body, budget_s)
            self.metrics_exports += 1
        except Exception as error:  # noqa: BLE001 - counted and reported, the spans go on
            self.metrics_failed_exports += 1
            self.metrics_last_error = self._redactor(f"{type(error).__name__}: {error}")
            self._record_error(SinkError(f"metrics export: {self.metrics_last_error}"))
