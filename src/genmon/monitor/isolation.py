"""Calls user callbacks isolated from each other and from the caller, each with a timeout.

Alert handlers and the token usage callback are user code that may raise,
hang or be a coroutine function. ``IsolatedRunner.submit`` only queues the
call, so the alert worker keeps its cadence. A supervisor thread runs each
handler's calls one at a time and in order (a ``resolved`` alert never
overtakes its ``firing`` one): a sync call on a fresh daemon thread, a
coroutine on one shared asyncio loop thread, so an async handler can keep
loop-bound resources (an HTTP session) across calls.

A call that outlives its timeout is counted and logged as a
``HandlerTimeoutError`` and the handler's next call starts. Python cannot
kill a thread, so the hung one is abandoned (a coroutine is cancelled); a
handler with ``max_abandoned`` calls still hung gets no new thread until one
returns, and its calls wait in a bounded backlog. ``close(deadline)`` returns
by the deadline whatever the handlers do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import queue
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from genmon.monitor.workers import THREAD_PREFIX, HandlerErrors

__all__ = ["HandlerSkippedError", "HandlerTimeoutError", "IsolatedRunner", "is_coroutine_function"]


class HandlerTimeoutError(TimeoutError):
    """A handler call did not return within its timeout (it was abandoned, or cancelled if async)."""


class HandlerSkippedError(RuntimeError):
    """A handler call was never made: its backlog was full, or the monitor shut down first."""


def is_coroutine_function(fn: Any) -> bool:
    """True for ``async def`` functions and for objects whose ``__call__`` is one."""
    # The class's __call__, as Python looks it up for fn(...).
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))  # noqa: B004


class _Call:
    __slots__ = ("deadline", "error", "future", "lane", "thread", "timed_out")

    def __init__(self, lane: _Lane, deadline: float) -> None:
        self.lane = lane
        self.deadline = deadline
        self.thread: threading.Thread | None = None
        self.future: concurrent.futures.Future[Any] | None = None
        self.error: BaseException | None = None
        self.timed_out = False


class _Lane:
    """One handler's backlog and the call it is running; touched only by the supervisor."""

    __slots__ = ("abandoned", "name", "pending", "running")

    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self.running: _Call | None = None
        self.abandoned = 0  # sync calls timed out whose threads have not returned


class _Stop:
    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline


class _LoopThread:
    """An asyncio event loop running forever on a named daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        tasks = asyncio.all_tasks(self.loop)
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def submit(self, awaitable: Awaitable[Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(_await(awaitable), self.loop)

    def stop(self, timeout_s: float) -> bool:
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            pass
        self.thread.join(timeout_s)
        return not self.thread.is_alive()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class IsolatedRunner:
    """Runs callbacks by name, one call at a time per name, each on its own thread with a timeout.

    Args:
        errors: where raising, hanging and skipped calls are counted, under
            the handler's name (and logged by the monitor).
        timeout_s: seconds a call may take.
        kind: thread names are ``genmon-<kind>-<handler name>``.
        max_pending: calls waiting per handler at most; beyond it they are skipped.
        max_abandoned: hung sync calls per handler before it gets no new thread.

    Example:
        >>> from genmon.monitor.workers import HandlerErrors
        >>> runner = IsolatedRunner(HandlerErrors(lambda *a: None), timeout_s=1.0)
        >>> runner.submit("printer", print, "hello")
        True
        >>> runner.close(time.monotonic() + 5)  # doctest: +ELLIPSIS
        hello
        True
    """

    def __init__(
        self,
        errors: HandlerErrors,
        timeout_s: float = 5.0,
        *,
        kind: str = "alert",
        max_pending: int = 1000,
        max_abandoned: int = 4,
    ) -> None:
        if not 0 < timeout_s <= 86400:  # also refuses nan and inf, which no wait can take
            raise ValueError(f"alert_handler_timeout must be > 0 and at most a day in seconds, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.kind = kind
        self.calls = 0
        self.timeouts = 0
        self.skipped = 0
        self._errors = errors
        self._max_pending = max_pending
        self._max_abandoned = max_abandoned
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lanes: dict[str, _Lane] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        # One event loop per async handler: a handler that blocks inside
        # ``async def`` (a sync HTTP call) stalls only its own loop.
        self._loop_threads: dict[str, _LoopThread] = {}
        self._lock = threading.Lock()
        self._all_delivered = True

    # -- called by any thread --------------------------------------------------
    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue ``fn(*args)`` behind the earlier calls of ``name``; False once closed."""
        with self._lock:
            if self._closed:
                return False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._supervise, name=f"{THREAD_PREFIX}{self.kind}-supervisor", daemon=True
                )
                self._thread.start()
        self._inbox.put((name, fn, args))
        return True

    def close(self, deadline: float) -> bool:
        """Run what was submitted, wait for running calls until ``deadline`` (monotonic), stop.

        Returns True when every submitted call returned in time.
        """
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return True
        self._inbox.put(_Stop(deadline))
        # The supervisor gives up on handlers at the deadline; the margin covers its own exit.
        thread.join(max(deadline - time.monotonic(), 0.0) + 0.5)
        return self._all_delivered and not thread.is_alive()

    def stats(self) -> dict[str, int]:
        return {"calls": self.calls, "timeouts": self.timeouts, "skipped": self.skipped}

    # -- the supervisor thread -------------------------------------------------
    def _supervise(self) -> None:
        stop_at: float | None = None
        while True:
            wait = self._next_wakeup(stop_at)
            try:
                item = self._inbox.get(timeout=wait) if wait is None or wait > 0 else self._inbox.get_nowait()
            except queue.Empty:
                item = None
            while item is not None:
                if isinstance(item, _Stop):
                    stop_at = item.deadline
                elif isinstance(item, _Call):
                    self._finished(item)
                else:
                    self._enqueue(*item)
                try:
                    item = self._inbox.get_nowait()
                except queue.Empty:
                    item = None
            now = time.monotonic()
            self._expire(now)
            self._start_ready(now)
            # At stop, wait only for calls that can still run: a handler with all
            # its threads hung would hold its backlog until the deadline for nothing.
            if stop_at is not None and (now >= stop_at or not any(map(self._can_progress, self._lanes.values()))):
                self._give_up()
                break
        for loop_thread in list(self._loop_threads.values()):
            loop_thread.stop(max((stop_at or 0.0) - time.monotonic(), 0.1))

    def _can_progress(self, lane: _Lane) -> bool:
        return lane.running is not None or (bool(lane.pending) and lane.abandoned < self._max_abandoned)

    def _next_wakeup(self, stop_at: float | None) -> float | None:
        deadlines = [lane.running.deadline for lane in self._lanes.values() if lane.running is not None]
        if stop_at is not None:
            deadlines.append(stop_at)
        return min(deadlines) - time.monotonic() if deadlines else None

    def _enqueue(self, name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        lane = self._lanes.get(name)
        if lane is None:
            lane = self._lanes[name] = _Lane(name)
        if len(lane.pending) >= self._max_pending:
            self.skipped += 1
            self._all_delivered = False
            self._errors.record(name, HandlerSkippedError(f"{name}: {len(lane.pending)} calls waiting, call skipped"))
            return
        lane.pending.append((fn, args))

    def _start_ready(self, now: float) -> None:
        for lane in self._lanes.values():
            while lane.running is None and lane.pending and lane.abandoned < self._max_abandoned:
                fn, args = lane.pending.popleft()
                self._start(lane, fn, args, now)

    def _start(self, lane: _Lane, fn: Callable[..., Any], args: tuple[Any, ...], now: float) -> None:
        call = _Call(lane, now + self.timeout_s)
        self.calls += 1
        try:
            if is_coroutine_function(fn):
                # Creating the coroutine runs none of its body; the loop runs it.
                coroutine = fn(*args)
                try:
                    future = self._loop(lane.name).submit(coroutine)
                except BaseException:
                    coroutine.close()  # never scheduled: no "never awaited" warning
                    raise
                call.future = future
                future.add_done_callback(functools.partial(self._on_done, call))
            else:
                call.thread = threading.Thread(
                    target=self._call_sync,
                    args=(call, fn, args),
                    name=f"{THREAD_PREFIX}{self.kind}-{lane.name}",
                    daemon=True,
                )
                call.thread.start()
        except Exception as error:  # noqa: BLE001 - a call that cannot even start is that handler's failure
            self._errors.record(lane.name, error)
            return
        lane.running = call

    def _on_done(self, call: _Call, _future: concurrent.futures.Future[Any]) -> None:
        self._inbox.put(call)

    def _call_sync(self, call: _Call, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            result = fn(*args)
            if inspect.isawaitable(result):  # e.g. a sync wrapper returning a coroutine
                call.future = self._loop(call.lane.name).submit(result)
                if call.timed_out:
                    call.future.cancel()
                call.future.result()
        except BaseException as error:  # noqa: BLE001 - everything a handler raises is its own failure
            call.error = error
        self._inbox.put(call)

    def _finished(self, call: _Call) -> None:
        lane = call.lane
        if call.timed_out:  # already counted as a timeout
            if call.thread is not None:
                lane.abandoned -= 1
            return
        error = call.error
        future = call.future
        if error is None and call.thread is None and future is not None and not future.cancelled():
            error = future.exception()
        if error is not None:
            self._errors.record(lane.name, error)
        if lane.running is call:
            lane.running = None

    def _expire(self, now: float) -> None:
        for lane in self._lanes.values():
            call = lane.running
            if call is not None and now >= call.deadline:
                self._time_out(call, f"{lane.name} did not return within {self.timeout_s:g} s")

    def _time_out(self, call: _Call, message: str) -> None:
        lane = call.lane
        call.timed_out = True
        self.timeouts += 1
        self._all_delivered = False
        if call.future is not None:
            call.future.cancel()
        if call.thread is not None:
            lane.abandoned += 1
        lane.running = None
        self._errors.record(lane.name, HandlerTimeoutError(message))

    def _give_up(self) -> None:
        for lane in self._lanes.values():
            if lane.running is not None:
                self._time_out(lane.running, f"{lane.name} had not returned at shutdown")
            if lane.pending:
                self.skipped += len(lane.pending)
                self._all_delivered = False
                message = f"{lane.name}: {len(lane.pending)} calls not made before shutdown"
                lane.pending.clear()
                self._errors.record(lane.name, HandlerSkippedError(message))

    def _loop(self, name: str) -> _LoopThread:
        with self._lock:
            loop_thread = self._loop_threads.get(name)
            if loop_thread is None:
                loop_thread = self._loop_threads[name] = _LoopThread(f"{THREAD_PREFIX}{self.kind}-asyncio-{name}")
            return loop_thread
