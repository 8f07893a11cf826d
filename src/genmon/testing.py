"""Test doubles for code that uses genmon: a manual clock and capturing handlers.

Example:
    >>> from genmon.testing import ManualClock, CapturingMetricHandler
    >>> clock, sink = ManualClock(1_000.0), CapturingMetricHandler()
    >>> clock.advance(5); clock()
    1005.0
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = [
    "BlockingHandler",
    "CapturingLogHandler",
    "CapturingMetricHandler",
    "LifecycleRecordingHandler",
    "ManualClock",
    "RaisingHandler",
]


class ManualClock:
    """A clock that moves only when told: pass it as ``GenerationMonitor(clock=...)``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (a timedelta works too) and return the new time."""
        seconds = seconds.total_seconds() if hasattr(seconds, "total_seconds") else seconds
        with self._lock:
            self._now += float(seconds)
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)


class CapturingMetricHandler:
    """Keeps every point it receives as ``(metric_name, value, metadata)``, per-point protocol."""

    def __init__(self, name: str | None = None) -> None:
        if name:
            self.name = name
        self.points: list[tuple[str, float, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        with self._lock:
            self.points.append((metric_name, value, metadata))

    def values(self, metric_name: str) -> list[float]:
        with self._lock:
            return [v for n, v, _ in self.points if n == metric_name]


class LifecycleRecordingHandler(CapturingMetricHandler):
    """A capturing metric handler that also records its ``flush`` and ``close`` calls, in order, in ``calls``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.calls: list[str] = []

    def flush(self, timeout_s: float) -> None:
        self.calls.append("flush")

    def close(self, timeout_s: float) -> None:
        self.calls.append("close")


class CapturingLogHandler:
    """Keeps every log record it receives."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def handle_log(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.records.append(message)

    def messages(self, level: str | None = None) -> list[str]:
        with self._lock:
            return [r["message"] for r in self.records if level is None or r.get("level") == level]


class RaisingHandler:
    """A metric and log handler that raises on every call."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error or RuntimeError("handler failure")
        self.calls = 0

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        self.calls += 1
        raise self.error

    def handle_log(self, message: dict[str, Any]) -> None:
        self.calls += 1
        raise self.error


class BlockingHandler(CapturingMetricHandler):
    """A metric handler that blocks inside its first call until ``release()``."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name)
        self.entered = threading.Event()
        self._released = threading.Event()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any]) -> None:
        self.entered.set()
        self._released.wait()
        super().handle_metric(metric_name, value, metadata)

    def release(self) -> None:
        self._released.set()
