"""The handler contracts: what a sink fed by the monitor's workers must offer.

``handle_metric`` and ``handle_log`` are afterimage's protocols and are
called with keywords. The optional methods are used when present:
``handle_batch(points)`` receives a whole batch at once, ``flush(timeout_s)``
and ``close(timeout_s)`` take part in the monitor's lifecycle.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

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
