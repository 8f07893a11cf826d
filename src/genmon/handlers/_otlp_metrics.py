"""The GenAI client metrics of the OpenTelemetry semantic conventions, aggregated from genmon's spans.

``gen_ai.client.operation.duration`` (seconds) and ``gen_ai.client.token.usage``
(``{token}``, one point per ``gen_ai.token.type``: ``input``, ``output``) are
explicit-bucket histograms with the boundaries the conventions advise,
recorded for model calls (``chat``, ``text_completion``, ``generate_content``,
``embeddings``) and exported with cumulative temporality: every export
carries the totals since the handler started, so a failed export is made
good by the next one. Attribute sets are bounded; past the bound, points go
to one set marked ``otel.metric.overflow=true``, as the OpenTelemetry SDK does.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Histogram, HistogramDataPoint, Metric
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from genmon.handlers._otlp_encoding import MODEL_CALLS, key_values, operation_of, scope

DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
DURATION_BOUNDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BOUNDS = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864
MAX_ATTRIBUTE_SETS = 1000
OVERFLOW: tuple[tuple[str, Any], ...] = (("otel.metric.overflow", True),)
_CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

Key = tuple[tuple[str, Any], ...]  # sorted attribute items


@dataclass
class _Series:
    """One histogram data point: bucket counts over ``bounds``, plus count, sum, min and max."""

    bounds: tuple[float, ...]
    buckets: list[int] = field(default_factory=list)
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        if not self.buckets:
            self.buckets = [0] * (len(self.bounds) + 1)
        # Buckets are (bounds[i-1], bounds[i]]: a value equal to a bound falls in the lower bucket.
        self.buckets[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class GenAiMetrics:
    """Cumulative GenAI client histograms fed with spans (any thread) and encoded for ``/v1/metrics``."""

    def __init__(self, provider: str | None = None, max_attribute_sets: int = MAX_ATTRIBUTE_SETS) -> None:
        self.provider = provider
        self.max_attribute_sets = max_attribute_sets
        self.start_ns = time.time_ns()
        self._lock = threading.Lock()
        self._series: dict[str, dict[Key, _Series]] = {DURATION: {}, TOKEN_USAGE: {}}
        self.spans_counted = 0

    def add(self, spans: list[Any]) -> None:
        """Record the duration and token usage of every model call among ``spans``."""
        for span in spans:
            operation = operation_of(span)
            if operation not in MODEL_CALLS:
                continue
            metadata = span.metadata or {}
            common: dict[str, Any] = {"gen_ai.operation.name": operation}
            provider = metadata.get("gen_ai.provider.name", self.provider)
            if isinstance(provider, str) and provider:
                common["gen_ai.provider.name"] = provider
            if span.model_name is not None:
                common["gen_ai.request.model"] = span.model_name
            if span.response_model is not None:
                common["gen_ai.response.model"] = span.response_model
            timing = dict(common)
            if not span.success and span.exception_type:
                timing["error.type"] = span.exception_type
            with self._lock:
                self.spans_counted += 1
                self._point(DURATION, timing, DURATION_BOUNDS).add(max(float(span.duration_s), 0.0))
                for token_type, count in (("input", span.prompt_tokens), ("output", span.completion_tokens)):
                    if count is not None:
                        self._point(TOKEN_USAGE, {**common, "gen_ai.token.type": token_type}, TOKEN_BOUNDS).add(
                            float(count)
                        )

    def _point(self, metric: str, attributes: dict[str, Any], bounds: tuple[float, ...]) -> _Series:
        series = self._series[metric]
        key = tuple(sorted(attributes.items()))
        point = series.get(key)
        if point is None:
            if len(series) >= self.max_attribute_sets:
                key = OVERFLOW
                point = series.get(key)
            if point is None:
                point = series[key] = _Series(bounds)
        return point

    def encode(self, resource: Resource) -> bytes:
        """An ``ExportMetricsServiceRequest`` with both histograms as they stand (empty bytes before any point)."""
        now = time.time_ns()
        with self._lock:
            snapshot = {
                name: [
                    (key, _Series(p.bounds, list(p.buckets), p.count, p.total, p.low, p.high)) for key, p in s.items()
                ]
                for name, s in self._series.items()
            }
        if not any(snapshot.values()):
            return b""
        request = ExportMetricsServiceRequest()
        resource_metrics = request.resource_metrics.add()
        resource_metrics.resource.CopyFrom(resource)
        scope_metrics = resource_metrics.scope_metrics.add()
        scope_metrics.scope.CopyFrom(scope())
        described = {
            DURATION: ("GenAI operation duration.", "s"),
            TOKEN_USAGE: ("Number of input and output tokens used.", "{token}"),
        }
        for name, points in snapshot.items():
            if not points:
                continue
            description, unit = described[name]
            data_points = [
                HistogramDataPoint(
                    attributes=key_values(key),
                    start_time_unix_nano=self.start_ns,
                    time_unix_nano=now,
                    count=point.count,
                    sum=point.total,
                    bucket_counts=point.buckets,
                    explicit_bounds=point.bounds,
                    min=point.low,
                    max=point.high,
                )
                for key, point in points
            ]
            histogram = Histogram(data_points=data_points, aggregation_temporality=_CUMULATIVE)
            scope_metrics.metrics.append(Metric(name=name, description=description, unit=unit, histogram=histogram))
        return request.SerializeToString()
