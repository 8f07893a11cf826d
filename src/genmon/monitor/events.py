"""Event callbacks: ``monitor.on(event, callback)``, each callback isolated with a timeout.

Callbacks never run on the generator's thread. Emitting an event with no
subscriber costs one dict lookup; with subscribers it is handed to an
asyncio loop on the ``genmon-events`` thread (started with the first
subscription). Each callback consumes its events in order:

- an async callback runs on that loop under ``asyncio.wait_for`` (cancelled
  at the timeout);
- a sync callback runs on its own ``genmon-callback-*`` thread, so a slow
  one delays only itself. A sync call cannot be cancelled: after its
  timeout it is counted, and the events that arrive while it is still
  stuck are skipped and counted too, instead of piling up behind it.

Errors, timeouts and skips are counted in the monitor's ``errors`` under
``callback:<event>:<name>``, never raised into the generator.

Alert handlers use ``genmon.monitor.isolation.IsolatedRunner`` instead, a
fresh thread per call: right for a few alerts a minute, too costly for
events that come with every generation call, and it has no way for
``flush()`` to wait until earlier events were handled, which this bus has.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genmon.errors import MonitorClosedError
from genmon.monitor.workers import THREAD_PREFIX, HandlerErrors

if TYPE_CHECKING:
    from genmon.monitor.records import Alert
    from genmon.monitor.spans import SpanRecord

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


class _SyncLane:
    """A daemon thread running one sync callback's calls in order."""

    def __init__(self, callback: Callable[[Event], Any], name: str) -> None:
        self.callback = callback
        self.busy = False
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}callback-{name}", daemon=True)
        self.thread.start()

    def submit(self, event: Event) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put((future, event))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, event = item
            if not future.set_running_or_notify_cancel():
                continue  # its waiter already gave up
            self.busy = True
            try:
                result = self.callback(event)
            except BaseException as error:  # noqa: BLE001 - reported through the future
                self.busy = False  # before the waiter wakes, so it never sees a stale busy flag
                future.set_exception(error)
            else:
                self.busy = False
                future.set_result(result)


class _Subscription:
    def __init__(self, event: str, callback: Callable[[Event], Any], name: str) -> None:
        self.event = event
        self.callback = callback
        self.error_name = f"callback:{event}:{name}"
        call = getattr(callback, "__call__", None)  # noqa: B004 - callable objects with an async __call__
        self.is_async = inspect.iscoroutinefunction(callback) or inspect.iscoroutinefunction(call)
        self.lane = None if self.is_async else _SyncLane(callback, f"{event}-{name}")
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.task: concurrent.futures.Future[None] | None = None


class EventBus:
    """Subscriptions and dispatch of the monitor's events.

    Args:
        errors: where callback errors, timeouts and skips are counted.
        timeout_s: seconds each callback call may take.
        clock: epoch seconds for ``Event.timestamp``.
    """

    def __init__(self, errors: HandlerErrors, timeout_s: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ValueError(f"callback_timeout must be > 0 seconds, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.subscribers: dict[str, list[_Subscription]] = {name: [] for name in EVENTS}
        self.counts = {"delivered": 0, "failed": 0, "timed_out": 0, "skipped": 0}
        self._errors = errors
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(threading.Lock())
        self._pending = 0
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
            if self._closed:
                raise MonitorClosedError("the monitor is closed: no more callbacks can be added")
            loop = self._ensure_loop()
            sub = _Subscription(event, callback, name)
            sub.task = asyncio.run_coroutine_threadsafe(self._consume(sub), loop)
            # Copy on write: emit() reads the list without a lock.
            self.subscribers[event] = [*self.subscribers[event], sub]
        return callback

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._run_loop, args=(loop,), name=f"{THREAD_PREFIX}events", daemon=True
            )
            self._loop = loop
            self._thread.start()
        return self._loop

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    # -- emitting --------------------------------------------------------------
    def emit(
        self, name: str, data: dict[str, Any] | None = None, span: SpanRecord | None = None, alert: Alert | None = None
    ) -> None:
        """Queue ``name`` for its callbacks without waiting; a no-op when it has none."""
        subs = self.subscribers[name]
        if not subs or self._loop is None or self._closed:
            return
        event = Event(name, self._clock(), data if data is not None else {}, span, alert)
        with self._idle:
            self._pending += len(subs)
        try:
            self._loop.call_soon_threadsafe(self._dispatch, subs, event)
        except RuntimeError:  # the loop closed between the check and the call
            self._done(len(subs))

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

    def _dispatch(self, subs: list[_Subscription], event: Event) -> None:
        for sub in subs:
            if sub.queue.qsize() >= MAX_BACKLOG:
                self._count(
                    sub, "skipped", RuntimeError(f"{sub.error_name}: {MAX_BACKLOG} events waiting; event skipped")
                )
                self._done(1)
            else:
                sub.queue.put_nowait(event)

    async def _consume(self, sub: _Subscription) -> None:
        while True:
            event = await sub.queue.get()
            if event is None:
                return
            try:
                await self._call(sub, event)
            finally:
                self._done(1)

    async def _call(self, sub: _Subscription, event: Event) -> None:
        timeout = self.timeout_s
        try:
            if sub.lane is None:
                await asyncio.wait_for(sub.callback(event), timeout)
            elif sub.lane.busy:
                error = TimeoutError(f"{sub.error_name} is still running a call that timed out; event skipped")
                self._count(sub, "skipped", error)
                return
            else:
                started = time.monotonic()
                result = await asyncio.wait_for(asyncio.wrap_future(sub.lane.submit(event)), timeout)
                if inspect.isawaitable(result):  # a sync callable that returned a coroutine
                    await asyncio.wait_for(result, max(timeout - (time.monotonic() - started), 0.0))
        except TimeoutError:
            self._count(sub, "timed_out", TimeoutError(f"{sub.error_name} took longer than {timeout:g} s"))
        except Exception as error:  # noqa: BLE001 - a callback's failure is counted, never raised
            self._count(sub, "failed", error)
        else:
            self.counts["delivered"] += 1

    def _count(self, sub: _Subscription, outcome: str, error: BaseException) -> None:
        self.counts[outcome] += 1
        self._errors.record(sub.error_name, error)

    def _done(self, n: int) -> None:
        with self._idle:
            self._pending -= n
            if self._pending <= 0:
                self._idle.notify_all()

    # -- lifecycle -------------------------------------------------------------
    def wait_idle(self, deadline: float) -> bool:
        """Wait until every event emitted so far was handled (or timed out), by ``deadline`` (monotonic)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, max(deadline - time.monotonic(), 0.0))

    def close(self, deadline: float) -> bool:
        """Let queued events finish by ``deadline``, then stop the loop and the callback threads."""
        with self._lock:
            if self._closed:
                return True
            self._closed = True
        if self._loop is None:
            return True
        ok = self.wait_idle(deadline)
        subs = [sub for subs in self.subscribers.values() for sub in subs]
        loop = self._loop

        def stop() -> None:
            for sub in subs:
                sub.queue.put_nowait(None)  # after every queued event
            loop.call_soon(_stop_when_done, loop, [s.task for s in subs])

        loop.call_soon_threadsafe(stop)
        for sub in subs:
            if sub.lane is not None:
                sub.lane.stop()
        assert self._thread is not None
        self._thread.join(max(deadline - time.monotonic(), 0.0))
        if self._thread.is_alive():  # past the deadline: cancel whatever still waits on a callback
            loop.call_soon_threadsafe(_cancel_all, loop)
            self._thread.join(0.5)
        for sub in subs:
            if sub.lane is not None:
                sub.lane.thread.join(max(deadline - time.monotonic(), 0.0))
                # A callback still hung past the deadline keeps its daemon thread until it returns.
                ok = ok and not sub.lane.thread.is_alive()
        return ok and not self._thread.is_alive()

    def stats(self) -> dict[str, Any]:
        return {
            **self.counts,
            "pending": self._pending,
            "callbacks": {k: len(v) for k, v in self.subscribers.items() if v},
        }


def _stop_when_done(loop: asyncio.AbstractEventLoop, tasks: list[Any]) -> None:
    """Stop the loop once every consumer returned; cancel them if they are stuck past the deadline."""
    pending = [t for t in tasks if t is not None and not t.done()]
    if not pending:
        loop.stop()
        return
    loop.call_later(0.01, _stop_when_done, loop, tasks)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    for task in asyncio.all_tasks(loop):
        task.cancel()
    loop.call_soon(loop.stop)
