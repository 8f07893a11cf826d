"""Calling user code in isolation: one lane per callable, its calls in order, each bounded.

All user code genmon runs goes through an ``IsolatedLane``: metric, log and
span handlers, alert handlers, the token usage callback and event
callbacks. A lane is a queue and a named daemon thread of its own, so a
slow or hung callable delays only itself, never the generator, a worker or
another callable. A lane:

- runs its calls one at a time, in the order they were submitted;
- counts every call by outcome: returned, failed (raised), timed out or
  skipped; failures go to the monitor's ``HandlerErrors`` under its name;
- bounds each call by ``timeout_s`` when it has one (alert handlers, event
  callbacks): a ``Watchdog`` thread gives up on an overdue sync call, and an
  async call is cancelled on the lane's own event loop. Python cannot kill a
  thread, so a hung sync call keeps its thread; the lane then either starts
  a fresh thread for the calls behind it (``while_hung="new_thread"``, at
  most ``max_abandoned`` hung threads, then its calls wait), or skips the
  calls that arrive while it is stuck (``while_hung="skip"``: events come
  with every generation call and must not pile up behind a dead callback);
- bounds its backlog: past ``max_pending`` waiting calls, new ones are skipped;
- stops by a deadline whatever its callable does (``close``): the calls still
  waiting then are skipped and returned, so the caller can count what they held.

Handler lanes have no per-call timeout: a sink is slow rather than hung
(HTTP and MLflow bound their own requests), and the backlog bound and the
close deadline keep the monitor bounded. An async callable gets an asyncio
loop of its own on its lane's thread, kept across calls, so it can hold
loop-bound resources (an HTTP session); one that blocks inside ``async def``
stalls only its own lane.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genmon.monitor.engine.failures import THREAD_PREFIX, HandlerErrors

if TYPE_CHECKING:
    import asyncio

    from genmon.monitor.engine.watchdog import Watchdog

__all__ = ["Call", "HandlerSkippedError", "HandlerTimeoutError", "IsolatedLane", "is_coroutine_function"]

OUTCOMES = ("returned", "failed", "timed_out", "skipped")
# An async call is cancelled at its timeout on its loop; the watchdog steps in only
# this much later, for a coroutine that blocks its loop and so cannot be cancelled.
_ASYNC_GRACE_S = 1.0


class HandlerTimeoutError(TimeoutError):
    """A call did not return within its timeout (it was abandoned, or cancelled if async)."""


class HandlerSkippedError(RuntimeError):
    """A call was never made: the backlog was full, the callable was hung, or the lane stopped first."""


def is_coroutine_function(fn: Any) -> bool:
    """True for ``async def`` functions and for objects whose ``__call__`` is one."""
    # The class's __call__, as Python looks it up for fn(...).
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(getattr(type(fn), "__call__", None))  # noqa: B004


class Call:
    """One submitted call; ``done`` is set once it has an ``outcome`` (one of ``OUTCOMES``)."""

    __slots__ = ("args", "deadline", "done", "error", "fn", "outcome", "thread", "weight")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], weight: int) -> None:
        self.fn = fn
        self.args = args
        self.weight = weight  # records this call carries (a batch), for loss counts
        self.deadline: float | None = None
        self.outcome: str | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None  # the lane thread running it
        self.done = threading.Event()


class IsolatedLane:
    """One callable's calls, in order, on a thread of its own; see the module docstring.

    Args:
        name: the lane's name: thread ``genmon-<kind>-<name>`` and, unless
            ``error_name`` is given, the name failures are counted under.
        errors: where failures, timeouts and skips are counted and reported.
        kind: the thread name's middle part (``alert``, ``callback``, ``lane``).
        timeout_s: seconds a call may take (None: no bound; then no watchdog is needed).
        watchdog: times out overdue sync calls (required with ``timeout_s``).
        max_pending: calls waiting at most; further ones are skipped.
        while_hung: ``"new_thread"`` or ``"skip"`` (see the module docstring).
        max_abandoned: hung threads a ``"new_thread"`` lane tolerates.
    """

    def __init__(
        self,
        name: str,
        errors: HandlerErrors,
        *,
        kind: str = "lane",
        error_name: str | None = None,
        timeout_s: float | None = None,
        watchdog: Watchdog | None = None,
        max_pending: int = 1000,
        while_hung: str = "new_thread",
        max_abandoned: int = 4,
    ) -> None:
        if timeout_s is not None and watchdog is None:
            raise ValueError("a lane with a timeout needs a watchdog")
        if while_hung not in ("new_thread", "skip"):
            raise ValueError(f"while_hung must be 'new_thread' or 'skip', got {while_hung!r}")
        self.name = name
        self.error_name = error_name or name
        self.timeout_s = timeout_s
        self.counts = dict.fromkeys(("calls", *OUTCOMES), 0)
        self.all_delivered = True
        self.current: Call | None = None
        self._errors = errors
        self._thread_name = f"{THREAD_PREFIX}{kind}-{name}"
        self._watchdog = watchdog
        self._max_pending = max_pending
        self._while_hung = while_hung
        self._max_abandoned = max_abandoned
        self._cond = threading.Condition(threading.Lock())
        self._pending: deque[Call] = deque()
        self._active: threading.Thread | None = None  # the thread taking calls (None: none yet, or it hung)
        self._threads: list[threading.Thread] = []
        self._hung: set[threading.Thread] = set()  # threads still inside a call that timed out
        self._submitted = 0
        self._finished = 0
        self._closing = False
        self._stopped = False  # gave up at a close deadline: no call is made any more
        if watchdog is not None:
            watchdog.add(self)

    # -- any thread ----------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], *args: Any, weight: int = 1) -> Call:
        """Queue ``fn(*args)`` behind the earlier calls; the returned ``Call`` tells how it ended."""
        call = Call(fn, args, weight)
        with self._cond:
            self._submitted += 1
            reason = self._refusal_locked()
            if reason is None:
                self._pending.append(call)
                if self._active is None:
                    self._start_locked()
                else:
                    self._cond.notify()
                return call
            self._skip_locked(call)
        self._report(HandlerSkippedError(f"{self.name}: {reason}; call skipped"))
        return call

    def _refusal_locked(self) -> str | None:
        if self._closing or self._stopped:
            return "the lane is closed"
        if self._while_hung == "skip" and self._hung:
            return "still running a call that timed out"
        if len(self._pending) >= self._max_pending:
            return f"backlog full ({len(self._pending)} calls waiting)"
        return None

    def hung(self) -> int:
        """Threads still inside a call that timed out (Python cannot stop them)."""
        with self._cond:
            return len(self._hung)

    def pending_weight(self) -> int:
        """Records held by the calls waiting and the one running."""
        with self._cond:
            running = self.current.weight if self.current is not None else 0
            return running + sum(call.weight for call in self._pending)

    def wait_idle(self, deadline: float) -> bool:
        """Wait until every call submitted so far has an outcome, by ``deadline`` (monotonic)."""
        with self._cond:
            target = self._submitted
            return self._cond.wait_for(lambda: self._finished >= target, max(deadline - time.monotonic(), 0.0))

    def request_close(self) -> None:
        """Take no new call; the thread ends once the calls queued before this ran."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()

    def close(self, deadline: float, message: str = "not made before shutdown", report: bool = True) -> list[Call]:
        """Run what is queued, then stop, by ``deadline`` (monotonic) whatever the callable does.

        Returns the calls given up on: those still waiting (skipped) and the
        one still running at the deadline (timed out, its thread abandoned).
        The lane also gives up at once when every thread it may use is hung.
        """
        self.request_close()
        with self._cond:
            while True:
                idle = not self._pending and self.current is None
                stuck = self.current is None and bool(self._pending) and not self._may_start_locked()
                remaining = deadline - time.monotonic()
                if idle or stuck or remaining <= 0:
                    break
                self._cond.wait(remaining)
            given_up: list[Call] = []
            if not idle:
                self._stopped = True
                self._active = None
                running = self.current
                if running is not None:
                    self._time_out_locked(running)
                    given_up.append(running)
                while self._pending:
                    call = self._pending.popleft()
                    self._skip_locked(call)
                    given_up.append(call)
                self._cond.notify_all()
            # Hung threads are left to end when their call returns (Python cannot stop them).
            threads = [t for t in self._threads if t not in self._hung and t is not threading.current_thread()]
        if given_up and report:
            self._report(HandlerSkippedError(f"{self.name}: {len(given_up)} calls {message}"))
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        return given_up

    def expire(self, call: Call, message: str) -> None:
        """The watchdog's verdict: ``call`` is overdue. Its thread is abandoned."""
        skipped = 0
        with self._cond:
            if call.outcome is not None or self.current is not call:
                return
            self._time_out_locked(call)
            if self._while_hung == "skip":
                # The calls queued behind a hung call would wait for a thread that may never return.
                while self._pending:
                    self._skip_locked(self._pending.popleft())
                    skipped += 1
            elif self._pending and self._active is None and not self._stopped and self._may_start_locked():
                self._start_locked()
        self._report(HandlerTimeoutError(message))
        for _ in range(skipped):
            self._report(HandlerSkippedError(f"{self.name}: still running a call that timed out; call skipped"))

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {**self.counts, "pending": len(self._pending)}

    # -- internals (with the lock held) --------------------------------------------------
    def _may_start_locked(self) -> bool:
        if self._while_hung == "skip":
            return not self._hung
        return len(self._hung) < self._max_abandoned

    def _start_locked(self) -> None:
        if not self._may_start_locked():
            return  # the calls wait until a hung thread returns and takes over
        thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
        self._active = thread
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _finish_locked(self, call: Call, outcome: str, error: BaseException | None = None) -> None:
        call.outcome, call.error = outcome, error
        self.counts[outcome] += 1
        if outcome != "returned":
            self.all_delivered = False
        self._finished += 1
        call.done.set()
        self._cond.notify_all()

    def _skip_locked(self, call: Call) -> None:
        self._finish_locked(call, "skipped")

    def _time_out_locked(self, call: Call) -> None:
        self.current = None
        if call.thread is not None:
            self._hung.add(call.thread)
        self._active = None
        self._finish_locked(call, "timed_out")

    def _report(self, error: BaseException) -> None:
        self._errors.record(self.error_name, error)

    # -- the lane's threads ---------------------------------------------------------------
    def _run(self) -> None:
        me = threading.current_thread()
        loop: list[asyncio.AbstractEventLoop] = []  # this thread's event loop, made on first need
        try:
            while True:
                call = self._take(me)
                if call is None:
                    return
                error: BaseException | None = None
                timed_out = False
                try:
                    self._invoke(call, loop)
                except TimeoutError:  # an async call cancelled at its timeout
                    timed_out = True
                except BaseException as exc:  # noqa: BLE001 - everything a callable raises is its own failure
                    error = exc
                if not self._settle(me, call, error, timed_out):
                    return
        finally:
            if loop:
                _close_loop(loop[0])

    def _take(self, me: threading.Thread) -> Call | None:
        with self._cond:
            while True:
                if self._active is not me:
                    return None
                if self._pending:
                    call = self._pending.popleft()
                    break
                if self._closing:
                    self._active = None
                    return None
                self._cond.wait()
            self.counts["calls"] += 1
            self.current = call
            call.thread = me
            if self.timeout_s is not None:
                grace = _ASYNC_GRACE_S if is_coroutine_function(call.fn) else 0.0
                call.deadline = time.monotonic() + self.timeout_s + grace
        if call.deadline is not None and self._watchdog is not None:
            self._watchdog.poke()
        return call

    def _invoke(self, call: Call, loop: list[asyncio.AbstractEventLoop]) -> None:
        """Make the call; an async one (or an awaitable result) runs on this thread's own loop."""
        result = call.fn(*call.args)
        if inspect.isawaitable(result):
            import asyncio  # only lanes that meet a coroutine pay for asyncio (not ``import genmon``)

            if not loop:
                loop.append(asyncio.new_event_loop())
            timeout = None
            if call.deadline is not None:
                grace = _ASYNC_GRACE_S if is_coroutine_function(call.fn) else 0.0
                timeout = max(call.deadline - time.monotonic() - grace, 0.0)
            loop[0].run_until_complete(_bounded(result, timeout))

    def _settle(self, me: threading.Thread, call: Call, error: BaseException | None, timed_out: bool) -> bool:
        """Record the outcome; False when this thread must end (it was abandoned and is not needed)."""
        report: BaseException | None = None
        with self._cond:
            if call.outcome == "timed_out":  # the watchdog or a close gave up on this thread
                self._hung.discard(me)
                if self._active is None and not self._stopped and self._pending:
                    self._active = me  # the lane has no thread: this one takes over
                    return True
                return False
            self.current = None
            if timed_out:
                self._finish_locked(call, "timed_out")
                report = HandlerTimeoutError(f"{self.name} did not return within {self.timeout_s:g} s")
            elif error is not None:
                self._finish_locked(call, "failed", error)
                report = error
            else:
                self._finish_locked(call, "returned")
        if report is not None:
            self._report(report)
        return True


async def _bounded(awaitable: Any, timeout: float | None) -> Any:
    import asyncio

    if timeout is None:
        return await awaitable
    return await asyncio.wait_for(awaitable, timeout)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    import asyncio

    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
