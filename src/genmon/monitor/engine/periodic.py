"""A periodic task on a named daemon thread: the alert passes and the token usage callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from genmon.monitor.engine.failures import THREAD_PREFIX


class PeriodicTask:
    """Calls ``fn`` every ``interval_s`` seconds of real time on a named daemon thread.

    Ticks are scheduled on a fixed grid, so a slow pass delays only itself;
    ticks missed meanwhile are skipped rather than run back to back.

    Args:
        name: thread name suffix (``genmon-<name>``).
        interval_s: seconds between calls (> 0).
        fn: the work of one tick.
        on_error: called with whatever ``fn`` raises; the thread lives on.
    """

    def __init__(
        self, name: str, interval_s: float, fn: Callable[[], Any], on_error: Callable[[BaseException], None]
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval must be > 0 seconds, got {interval_s!r}")
        self.interval_s = float(interval_s)
        self._fn = fn
        self._on_error = on_error
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=THREAD_PREFIX + name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        next_tick = time.monotonic() + self.interval_s
        while not self._stop.wait(max(next_tick - time.monotonic(), 0.0)):
            try:
                self._fn()
            except Exception as error:  # noqa: BLE001 - one failed pass must not end the cadence
                self._on_error(error)
            now = time.monotonic()
            next_tick += self.interval_s
            if next_tick <= now:
                next_tick += (now - next_tick) // self.interval_s * self.interval_s + self.interval_s

    def stop(self, deadline: float) -> bool:
        """Stop and join by ``deadline`` (monotonic); True if the thread ended."""
        self._stop.set()
        if self.thread.ident is not None:
            self.thread.join(max(deadline - time.monotonic(), 0.0))
        return not self.thread.is_alive()
