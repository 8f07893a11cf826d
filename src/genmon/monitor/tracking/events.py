"""Event callbacks: ``monitor.on(event, callback)``, each callback isolated with a timeout.

genmon emits ``EVENTS``; ``monitor.emit(name, **data)`` emits events of the
application's own. A subscription names one event, several (one lane for
all of them, so their order is kept) or none (every event, custom ones
included).

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

import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from genmon.errors import MonitorClosedError
from genmon.monitor.engine.callbacks import CallbackRunner
from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.isolation import IsolatedLane
from genmon.records.spans import span_record

if TYPE_CHECKING:
    from genmon.records.spans import SpanRecord
    from genmon.records.types import Alert

EVENTS: tuple[str, ...] = ("generation_start", "generation_end", "generation_error", "alert", "flush", "close")
MAX_BACKLOG = 10_000  # events queued per callback at most; beyond it they are skipped and counted
_EVENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
_RESERVED_PREFIX = "generation_"  # genmon's own family: a typo of one of them is refused, not taken as new
_KNOWN_NAMES_CAP = 10_000  # names checked once and remembered (an emit loop pays a set lookup)


@dataclass(frozen=True)
class Event:
    """What a callback receives.

    Attributes:
        name: one of ``EVENTS``, or a custom event's name (``monitor.emit``).
        timestamp: epoch seconds (the monitor's clock) when it was emitted.
        data: the event's fields as a dict (a span's ``to_dict()`` for generation events,
            the keywords given to ``emit`` for a custom event).
        span: the finished ``SpanRecord`` for generation_end / generation_error of a tracked call.
        alert: the ``Alert`` for the alert event.
        ts_ns: the same time in integer nanoseconds (``time.time_ns()`` on the default clock).
        source: who emitted it: ``"genmon"`` for genmon's own events, else the emitting
            module's ``__name__`` or the ``source=`` given to ``emit`` (aiconfig's ``file``).
    """

    name: str
    timestamp: float
    data: dict[str, Any] = field(default_factory=dict)
    span: SpanRecord | None = None
    alert: Alert | None = None
    ts_ns: int = 0
    source: str = "genmon"


def check_event_name(name: Any, emitting: bool = False) -> str:
    """``name`` when it is a valid event name to subscribe to (or, ``emitting``, to emit); else a clear error."""
    if not isinstance(name, str) or not _EVENT_NAME.fullmatch(name):
        raise ValueError(
            "an event name is 1-128 characters (letters, digits, _ . : -) starting with a letter or _; "
            f"got {name!r:.80}"
        )
    if name in EVENTS:
        if emitting:
            raise ValueError(f"{name!r} is emitted by genmon itself; give your event a name of its own")
        return name
    if name.startswith(_RESERVED_PREFIX):
        raise ValueError(f"unknown event {name!r}: genmon's events are {', '.join(EVENTS)}")
    return name


class _Subscription:
    __slots__ = ("callback", "events", "lane")

    def __init__(self, events: tuple[str, ...] | None, callback: Callable[[Event], Any], lane: IsolatedLane) -> None:
        self.events = events  # None: every event
        self.callback = callback
        self.lane = lane


class _Resolved:
    """One event whose data is completed on the first callback lane that needs it (serialised inputs)."""

    __slots__ = ("_event", "_lock", "_resolve")

    def __init__(self, event: Event, resolve: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._event = event
        self._resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = resolve
        self._lock = threading.Lock()

    def call(self, callback: Callable[[Event], Any]) -> Any:
        with self._lock:
            if self._resolve is not None:
                self._event = replace(self._event, data=self._resolve(self._event.data))
                self._resolve = None
        return callback(self._event)


class EventBus:
    """Subscriptions and dispatch of the monitor's events, genmon's own and custom ones.

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
        # Per event name, every subscription it reaches (its own and the every-event ones); emit() reads it
        # without a lock, so lists are replaced, never changed in place.
        self.subscribers: dict[str, list[_Subscription]] = {name: [] for name in EVENTS}
        self._every: list[_Subscription] = []
        self._subscriptions: list[_Subscription] = []
        self._known: set[str] = set()  # custom names already checked
        self._now_ns = time.time_ns if clock is time.time else (lambda: round(clock() * 1e9))
        self._lock = threading.Lock()
        self._closed = False

    # -- subscribing -----------------------------------------------------------
    def on(self, events: Iterable[str] | None, callback: Callable[[Event], Any]) -> Callable[[Event], Any]:
        """Call ``callback(event)`` for each of ``events`` (None: every event); returns the callback.

        One subscription has one lane: its callback gets all its events in order.
        """
        names = None if events is None else tuple(dict.fromkeys(check_event_name(n) for n in events))
        if names == ():
            raise ValueError("give at least one event name, or none at all for every event")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        name = getattr(callback, "__qualname__", None) or type(callback).__name__
        label = "*" if names is None else "|".join(names)
        with self._lock:
            lane = (
                None
                if self._closed
                else self._runner.lane(f"{label}-{name}#{len(self._subscriptions)}", f"callback:{label}:{name}")
            )
            if lane is None:
                raise MonitorClosedError("the monitor is closed: no more callbacks can be added")
            sub = _Subscription(names, callback, lane)
            self._subscriptions.append(sub)
            if names is None:
                self._every = [*self._every, sub]
                for key, subs in self.subscribers.items():
                    self.subscribers[key] = [*subs, sub]
            else:
                for key in names:
                    self.subscribers[key] = [*self.subscribers.get(key, self._every), sub]
        return callback

    def subscribe(self, events: Any, callback: Any) -> Any:
        """``monitor.on`` in each of its forms: ``(name, cb)``, ``([names], cb)``, ``(cb)`` for every event, and
        the decorators ``("name")``, ``([names])`` and ``()``."""
        if callback is None and events is not None and callable(events) and not isinstance(events, str):
            events, callback = None, events  # on(callback) / bare @monitor.on: every event
        if isinstance(events, str):
            events = (events,)
        elif events is not None and not isinstance(events, (list, tuple, set, frozenset)):
            raise TypeError(f"events must be an event name, a list of names or None, got {type(events).__name__}")
        if callback is None:
            if events is not None:
                events = tuple(events)
                for name in events:
                    check_event_name(name)  # a bad name fails at the decorator line
            return lambda fn: self.subscribe(events, fn)
        return self.on(events, callback)

    def subscriptions(self) -> list[tuple[tuple[str, ...] | None, Callable[[Event], Any]]]:
        """(events or None for every event, callback) of each subscription, in the order made."""
        return [(sub.events, sub.callback) for sub in self._subscriptions]

    # -- emitting --------------------------------------------------------------
    def emit(
        self,
        name: str,
        data: dict[str, Any] | None = None,
        span: SpanRecord | None = None,
        alert: Alert | None = None,
        source: str = "genmon",
        resolve: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """Queue ``name`` for its callbacks without waiting; a no-op when it has none.

        ``resolve`` completes the data on the callback lanes (what must not be computed on the caller's thread).
        """
        subs = self.subscribers.get(name)
        if subs is None:
            subs = self._every
        if not subs or self._closed:
            return
        ts_ns = self._now_ns()
        event = Event(name, ts_ns / 1e9, data if data is not None else {}, span, alert, ts_ns, source)
        if resolve is None:
            for sub in subs:
                sub.lane.submit(sub.callback, event)
            return
        resolved = _Resolved(event, resolve)
        for sub in subs:
            sub.lane.submit(resolved.call, sub.callback)

    def emit_custom(self, name: str, source: str | None, data: dict[str, Any]) -> None:
        """``monitor.emit``: a custom event, its name checked (once per name); ``source`` defaults to the caller's module."""
        if name not in self._known:
            check_event_name(name, emitting=True)
            if len(self._known) < _KNOWN_NAMES_CAP:
                self._known.add(name)
        if self._closed:
            raise MonitorClosedError("the monitor is closed: no more events can be emitted")
        subs = self.subscribers.get(name)
        if not (self._every if subs is None else subs):
            return
        if source is None:
            source = sys._getframe(2).f_globals.get("__name__", "?")  # the module that called monitor.emit
        elif not isinstance(source, str):
            raise TypeError(f"source must be a string, got {type(source).__name__}")
        self.emit(name, data, source=source)

    def emit_spans(self, spans: list[SpanRecord]) -> None:
        """generation_end (and generation_error for failures) of finished spans (called by the span worker)."""
        ends, errors = self.subscribers["generation_end"], self.subscribers["generation_error"]
        if not ends and not errors:
            return
        for record in map(span_record, spans):  # queued spans are plain tuples (records.spans)
            data = record.to_dict()
            if errors and not record.success:
                self.emit("generation_error", dict(data) if ends else data, span=record)  # each callback its own
            if ends:
                self.emit("generation_end", data, span=record)

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
            "every_event_callbacks": len(self._every),
        }
