"""The watchdog: one thread that gives up on the overdue calls of many isolated lanes."""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from genmon.monitor.engine.failures import THREAD_PREFIX


class TimedLane(Protocol):
    """What the watchdog needs of a lane: its running call (with a ``deadline``) and a way to give up on it."""

    name: str
    timeout_s: float | None
    current: Any

    def expire(self, call: Any, message: str) -> None: ...


class Watchdog:
    """One thread that times out the overdue calls of many lanes (started with the first timed call)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lanes: list[TimedLane] = []
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add(self, lane: TimedLane) -> None:
        with self._cond:
            self._lanes = [*self._lanes, lane]

    def poke(self) -> None:
        """A timed call started: look at the deadlines again."""
        with self._cond:
            if self._stopped:
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=THREAD_PREFIX + self.name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                now = time.monotonic()
                due, next_at = [], None
                for lane in self._lanes:
                    call = lane.current  # read without the lane's lock: expire() checks again under it
                    if call is None or call.deadline is None:
                        continue
                    if call.deadline <= now:
                        due.append((lane, call))
                    elif next_at is None or call.deadline < next_at:
                        next_at = call.deadline
                if not due:
                    self._cond.wait(None if next_at is None else next_at - now)
                    continue
            for lane, call in due:
                lane.expire(call, f"{lane.name} did not return within {lane.timeout_s:g} s")

    def stop(self, deadline: float) -> bool:
        with self._cond:
            self._stopped = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), 0.0))
            return not thread.is_alive()
        return True
