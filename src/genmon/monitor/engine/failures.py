"""Failure counts of user code (handlers, callbacks, rules) by name, reported at most every 10 s per name."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from genmon.errors import RecordsDropped

THREAD_PREFIX = "genmon-"


class HandlerErrors:
    """Counts handler failures by handler name and reports them, rate-limited."""

    def __init__(self, report: Callable[[str, BaseException, int], None], interval_s: float = 10.0) -> None:
        self.counts: dict[str, int] = {}
        self._report = report
        self._interval_s = interval_s
        self._last_report: dict[str, float] = {}
        self._once: set[int] = set()
        self._lock = threading.Lock()

    def record(self, handler_name: str, error: BaseException, report: bool = False) -> None:
        """Count a failure; log it unless one of ``handler_name`` was logged in the last 10 s (or ``report``)."""
        now = time.monotonic()
        with self._lock:
            count = self.counts[handler_name] = self.counts.get(handler_name, 0) + 1
            due = report or now - self._last_report.get(handler_name, -1e18) >= self._interval_s
            if due:
                self._last_report[handler_name] = now
        if due:
            try:
                self._report(handler_name, error, count)
            except Exception:  # noqa: BLE001, S110 - reporting must never kill a worker
                pass

    def first_report_on(self, handler: Any) -> bool:
        """True the first time it is asked about ``handler``: a sink fed by several lanes reports its own loss once."""
        with self._lock:
            if id(handler) in self._once:
                return False
            self._once.add(id(handler))
            return True

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


class Attempt(NamedTuple):
    """What one delivery came to: records delivered, records dropped by reason, the error to report."""

    delivered: int
    dropped: dict[str, int]
    error: BaseException | None
    report: bool


class SinkAccount:
    """What one sink (a handler, a file) was given and what became of it: delivered, or dropped by reason.

    ``received == delivered + sum(dropped) + pending`` at any quiet moment,
    where ``pending`` is what waits on the sink's lane. A sink that raises
    ``RecordsDropped`` had part of its batch dropped; any other exception
    drops the whole batch as ``handler_error``. Either way the failure is
    counted in ``HandlerErrors`` and logged, and the caller never sees it.
    """

    def __init__(self, name: str, errors: HandlerErrors) -> None:
        self.name = name
        self.received = 0
        self.delivered = 0
        self.dropped: dict[str, int] = {}
        self._errors = errors
        self._lock = threading.Lock()

    def deliver(self, deliver: Callable[..., None], handler: Any, records: list[Any], count: int | None = None) -> None:
        """Hand ``records`` to ``handler`` through ``deliver`` and count what came of them; never raises.

        ``count``: the records they hold, when not one each (point groups hold several points).
        """
        self.apply(self.attempt(deliver, handler, records, count=count))

    def attempt(
        self,
        deliver: Callable[..., None],
        handler: Any,
        records: list[Any],
        stop: Callable[[], bool] | None = None,
        count: int | None = None,
    ) -> Attempt:
        """Deliver without counting yet: the outcome is counted by ``apply`` (a lane may write it off first)."""
        n = len(records) if count is None else count
        try:
            if stop is None:
                deliver(handler, records)
            else:
                deliver(handler, records, stop=stop)
        except RecordsDropped as error:
            counts: dict[str, int] = {}
            counted = 0
            for reason, dropped in error.counts.items():
                dropped = min(max(dropped, 0), n - counted)
                counts[reason] = counts.get(reason, 0) + dropped
                counted += dropped
            return Attempt(n - counted, counts, error, error.report)
        except Exception as error:  # noqa: BLE001 - a sink's failure is counted, never raised into a worker
            return Attempt(0, {"handler_error": n}, error, False)
        return Attempt(n, {}, None, False)

    def apply(self, attempt: Attempt) -> None:
        self.delivered += attempt.delivered
        for reason, count in attempt.dropped.items():
            self.drop(reason, count)
        if attempt.error is not None:
            self._errors.record(self.name, attempt.error, report=attempt.report)

    def drop(self, reason: str, count: int) -> None:
        if count:
            with self._lock:
                self.dropped[reason] = self.dropped.get(reason, 0) + count

    def stats(self, pending: int = 0) -> dict[str, Any]:
        with self._lock:
            dropped = dict(self.dropped)
        return {"received": self.received, "delivered": self.delivered, "dropped": dropped, "pending": pending}
