"""Event callbacks: ``monitor.on(event, callback)``, each callback isolated with a timeout.

Callbacks never run on the generator's thread. Emitting an event with no
subscriber costs one dict lookup; with subscribers each callback gets the
event on its own ``IsolatedLane`` (``genmon.monitor.engine.isolation``),
started with the subscription: it consumes its events in order, each call
bounded by ``callback_timeout`` (an async callback is cancelled then). A
sync call cannot be cancelled: after its timeout it is counted, and the
events that arrive while it is still stuck are skipped and counted too,
instead of piling up behind it.

Errors, timeouts and skips are counted in the monitor's ``errors`` under
``callback:<event>:<name>``, never raised into the generator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genmon.errors import MonitorClosedError
from genmon.monitor.engine.callbacks import CallbackRunner
from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.isolation import IsolatedLane

if TYPE_CHECKING:
    from genmon.records.spans import SpanRecord
    from genmon.records.types import Alert

EVENTS: tuple[str, ...] = ("generation_start", "generation_end", "generation_error", "alert", "flush", "close")
MAX_BACKLOG = 10_000  # events queued per callback at most; beyond it they are skipped and counted


@dataclass(frozen=True)
class Event:
    """What a callback receives.

    Attributes:
        name: one of ``EVENTS``.
        timestamp: epoch seconds (the monitor's clock) when it was emitted.
        data: the event's fields as a dict (a span's ``to_dict()`` for generation events).
        span: the finished ``SpanRecord`` for generation_end / generation_error of a tracked call.
        alert: the ``Alert`` for the alert event.
    """

    name: str
    timestamp: float
    data: dict[str, Any] = field(default_factory=dict)
    span: SpanRecord | None = None
    alert: Alert | None = None


class _Subscription:
    __slots__ = ("callback", "event", "lane")

    def __init__(self, event: str, callback: Callable[[Event], Any], lane: IsolatedLane) -> None:
        self.event = event
        self.callback = callback
        self.lane = lane


class EventBus:
    """Subscriptions and dispatch of the monitor's events.

    Args:
        errors: where callback errors, timeouts and skips are counted.
        timeout_s: seconds each callback call may take.
        clock: epoch seconds for ``Event.timestamp``.
    """

    def __init__(self, errors: HandlerErrors, timeout_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._runner = CallbackRunner(
            errors, timeout_s, kind="callback", max_pending=MAX_BACKLOG, while_hung="skip", argument="callback_timeout"
        )
        self.timeout_s = self._runner.timeout_s
        self.subscribers: dict[str, list[_Subscription]] = {name: [] for name in EVENTS}
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False

    # -- subscribing -----------------------------------------------------------
    def on(self, event: str, callback: Callable[[Event], Any]) -> Callable[[Event], Any]:
        """Call ``callback(event)`` for every ``event``; returns the callback (usable as a decorator)."""
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {', '.join(EVENTS)}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        name = getattr(callback, "__qualname__", None) or type(callback).__name__
        with self._lock:
            lane = (
                None
                if self._closed
                else self._runner.lane(f"{event}-{name}#{len(self.subscribers[event])}", f"callback:{event}:{name}")
            )
            if lane is None:
                raise MonitorClosedError("the monitor is closed: no more callbacks can be added")
            # Copy on write: emit() reads the list without a lock.
            self.subscribers[event] = [*self.subscribers[event], _Subscription(event, callback, lane)]
        return callback

    # -- emitting --------------------------------------------------------------
    def emit(
        self, name: str, data: dict[str, Any] | None = None, span: SpanRecord | None = None, alert: Alert | None = None
    ) -> None:
        """Queue ``name`` for its callbacks without waiting; a no-op when it has none."""
        subs = self.subscribers[name]
        if not subs or self._closed:
            return
        event = Event(name, self._clock(), data if data is not None else {}, span, alert)
        for sub in subs:
            sub.lane.submit(sub.callback, event)

    def emit_generation(self, duration: float, success: bool, kwargs: dict[str, Any]) -> None:
        """The events of a ``track_generation`` call (no span: the caller timed it itself)."""
        data: dict[str, Any] = {"duration_s": duration, "success": bool(success), **kwargs}
        error = kwargs.get("error")
        if isinstance(error, BaseException):
            data["error"], data["error_type"] = str(error), type(error).__name__
        if not success:
            self.emit("generation_error", dict(data))
        self.emit("generation_end", data)

    def emit_alert(self, alert: Alert) -> None:
        """An alert handler: ``monitor.alert_handlers`` calls it with each alert."""
        data = {"name": alert.name, "message": alert.message, "level": alert.level, **(alert.data or {})}
        self.emit("alert", data, alert=alert)

    # -- lifecycle -------------------------------------------------------------
    def wait_idle(self, deadline: float) -> bool:
        """Wait until every event emitted so far was handled (or timed out, or skipped), by ``deadline`` (monotonic)."""
        return self._runner.wait_idle(deadline)

    def close(self, deadline: float) -> bool:
        """Let queued events finish by ``deadline``, then stop the callback lanes."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        ok = self._runner.wait_idle(deadline)
        return self._runner.close(deadline) and ok

    def stats(self) -> dict[str, Any]:
        calls = self._runner.stats()
        return {
            "delivered": calls["returned"],
            "failed": calls["failed"],
            "timed_out": calls["timed_out"],
            "skipped": calls["skipped"],
            "pending": calls.get("pending", 0),
            "callbacks": {k: len(v) for k, v in self.subscribers.items() if v},
        }
