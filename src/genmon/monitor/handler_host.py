"""The ``HandlerContext`` a handler's ``bind_monitor`` receives: errors, the run, the close deadline, the stores.

It reads the monitor's ``Runtime`` (passed in, never imported: the runtime
builds the host) and keeps the latest alert records, so a sink that builds a
report at close (MlflowHandler's report.html) can list them without reading
genmon.log back.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from genmon.monitor.store.series_data import SeriesData
from genmon.records.spans import SpanRecord
from genmon.records.timefmt import IsoFormatter

MAX_ALERT_RECORDS = 1_000
# An alert as the alert manager logs it: (epoch seconds, level, message, {"alert": name, "data": {...}}).
AlertRecord = tuple[float, str, str, dict[str, Any]]


class HandlerHost:
    """What a bound handler may see of its monitor (``genmon.handlers.base.HandlerContext``).

    Args:
        runtime: the monitor's ``Runtime`` (its errors, settings, pipelines and stores are read).
    """

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.errors = runtime.errors
        self.log_dir = runtime.settings.log_dir
        self.run = runtime.settings.run
        self._bound: dict[int, Any] = {}
        self._lock = threading.Lock()
        self._alerts: deque[AlertRecord] = deque(maxlen=MAX_ALERT_RECORDS)

    def close_deadline(self) -> float | None:
        return self._runtime.close_deadline  # type: ignore[no-any-return]

    def lanes_of(self, handler: Any) -> int:
        return sum(
            sum(1 for fed in pipeline.sinks.handlers() if fed is handler) for pipeline in self._runtime.pipelines()
        )

    def bind(self, handler: Any) -> None:
        """``handler.bind_monitor(self)``, once per handler object (and never failing the caller)."""
        bind = getattr(handler, "bind_monitor", None)
        if not callable(bind):
            return
        with self._lock:
            if id(handler) in self._bound:
                return
            self._bound[id(handler)] = handler
        try:
            bind(self)
        except Exception as error:  # noqa: BLE001 - a handler's bug must not fail the monitor
            self.errors.record(getattr(handler, "name", None) or type(handler).__name__, error)

    def stored_snapshot(self) -> list[SeriesData]:
        self._wait_for(self._runtime.metrics.worker.thread)
        return self._runtime.store.snapshot()  # type: ignore[no-any-return]

    def stored_spans(self) -> list[SpanRecord]:
        self._wait_for(self._runtime.spans.worker.thread)
        return self._runtime.span_store.query()  # type: ignore[no-any-return]

    def keep_alert(self, record: AlertRecord) -> None:
        """Called by the alert manager's log for each alert fired or resolved."""
        self._alerts.append(record)

    def recent_alerts(self) -> list[dict[str, Any]]:
        iso = IsoFormatter()
        out = []
        for ts, level, message, data in list(self._alerts):
            out.append({"message": message, "level": level, "timestamp": iso(ts), "_ts": ts, **data})
        return out

    def _wait_for(self, worker: threading.Thread) -> None:
        # Only while the monitor closes: the worker then stores what is still queued and ends.
        deadline = self._runtime.close_deadline
        if deadline is not None and worker is not threading.current_thread():
            worker.join(max(deadline - time.monotonic(), 0.0))
