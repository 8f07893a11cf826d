"""Failure counts of user code (handlers, callbacks, rules) by name, reported at most every 10 s per name."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

THREAD_PREFIX = "genmon-"


class HandlerErrors:
    """Counts handler failures by handler name and reports them, rate-limited."""

    def __init__(self, report: Callable[[str, BaseException, int], None], interval_s: float = 10.0) -> None:
        self.counts: dict[str, int] = {}
        self._report = report
        self._interval_s = interval_s
        self._last_report: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, handler_name: str, error: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            count = self.counts[handler_name] = self.counts.get(handler_name, 0) + 1
            due = now - self._last_report.get(handler_name, -1e18) >= self._interval_s
            if due:
                self._last_report[handler_name] = now
        if due:
            try:
                self._report(handler_name, error, count)
            except Exception:  # noqa: BLE001, S110 - reporting must never kill a worker
                pass

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def handler_name(handler: Any, taken: set[str]) -> str:
    """A readable, unique name for a handler: its ``name`` attribute or its class name."""
    base = getattr(handler, "name", None)
    if not isinstance(base, str) or not base:
        base = getattr(handler, "__name__", None) or type(handler).__name__
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}#{n}"
    taken.add(name)
    return name
