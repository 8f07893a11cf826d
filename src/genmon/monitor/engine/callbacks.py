"""Named isolated lanes sharing one timeout and one watchdog: alert handlers, event callbacks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.isolation import OUTCOMES, Call, IsolatedLane
from genmon.monitor.engine.watchdog import Watchdog

__all__ = ["CallbackRunner"]


class CallbackRunner:
    """Named lanes sharing one timeout and one watchdog: the monitor's alert handlers, or its event callbacks.

    Args:
        errors: where failures are counted.
        timeout_s: seconds each call may take (> 0, at most a day).
        kind: thread names are ``genmon-<kind>-<name>``; the watchdog is ``genmon-<kind>-watchdog``.
        max_pending, while_hung, max_abandoned: as for ``IsolatedLane``.

    Example:
        >>> runner = CallbackRunner(HandlerErrors(lambda *a: None), timeout_s=1.0)
        >>> runner.submit("printer", print, "hello").done.wait(5)
        hello
        True
        >>> runner.close(time.monotonic() + 5)
        True
    """

    def __init__(
        self,
        errors: HandlerErrors,
        timeout_s: float = 5.0,
        *,
        kind: str = "alert",
        max_pending: int = 1000,
        while_hung: str = "new_thread",
        max_abandoned: int = 4,
        argument: str = "alert_handler_timeout",
    ) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 86400:
            # Also refuses nan and inf, which no wait can take.
            raise ValueError(f"{argument} must be > 0 and at most a day in seconds, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.kind = kind
        self.watchdog = Watchdog(f"{kind}-watchdog")
        self._errors = errors
        self._options = {"max_pending": max_pending, "while_hung": while_hung, "max_abandoned": max_abandoned}
        self._lanes: dict[str, IsolatedLane] = {}
        self._lock = threading.Lock()
        self._closed = False

    def lane(self, name: str, error_name: str | None = None) -> IsolatedLane | None:
        """The lane called ``name`` (made on first use), or None once the runner is closed."""
        with self._lock:
            if self._closed:
                return None
            lane = self._lanes.get(name)
            if lane is None:
                lane = self._lanes[name] = IsolatedLane(
                    name,
                    self._errors,
                    kind=self.kind,
                    error_name=error_name,
                    timeout_s=self.timeout_s,
                    watchdog=self.watchdog,
                    **self._options,  # type: ignore[arg-type]
                )
            return lane

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> Call | None:
        """Queue ``fn(*args)`` behind the earlier calls of ``name``; None once closed."""
        lane = self.lane(name)
        return None if lane is None else lane.submit(fn, *args)

    def is_hung(self, name: str) -> bool:
        """True while the lane called ``name`` has a thread stuck in a call that timed out."""
        with self._lock:
            lane = self._lanes.get(name)
        return lane is not None and lane.hung() > 0

    def lanes(self) -> list[IsolatedLane]:
        with self._lock:
            return list(self._lanes.values())

    def wait_idle(self, deadline: float) -> bool:
        """Every call submitted so far has an outcome, by ``deadline`` (monotonic)."""
        return all([lane.wait_idle(deadline) for lane in self.lanes()])  # noqa: C419 - wait on every lane

    def close(self, deadline: float) -> bool:
        """Run what was submitted, stop every lane and the watchdog by ``deadline``; True if every call returned."""
        with self._lock:
            self._closed = True
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.request_close()
        for lane in lanes:
            lane.close(deadline)
        self.watchdog.stop(deadline)
        return all(lane.all_delivered for lane in lanes)

    def stats(self) -> dict[str, int]:
        """Calls made, timed out and skipped, over every lane."""
        totals = dict.fromkeys(("calls", *OUTCOMES), 0)
        for lane in self.lanes():
            for key, value in lane.stats().items():
                if key in totals:
                    totals[key] += value
        return totals
