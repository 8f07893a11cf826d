"""Isolated lanes: ordered calls per callable, timeouts, hung threads, bounded backlog and bounded close."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from genmon.monitor.engine.callbacks import CallbackRunner
from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.isolation import HandlerSkippedError, HandlerTimeoutError, IsolatedLane


class Errors(HandlerErrors):
    """HandlerErrors that also keeps the exceptions."""

    def __init__(self) -> None:
        super().__init__(lambda *args: None)
        self.seen: list[tuple[str, BaseException]] = []

    def record(self, handler_name: str, error: BaseException) -> None:
        self.seen.append((handler_name, error))
        super().record(handler_name, error)


@pytest.fixture
def errors() -> Errors:
    return Errors()


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def test_calls_of_one_handler_run_one_at_a_time_in_order(errors: Errors) -> None:
    """Fifty calls queued for one handler run in submission order, never two at once."""
    runner = CallbackRunner(errors, 5.0)
    seen: list[int] = []
    active = [0]
    overlap = []

    def handler(i: int) -> None:
        active[0] += 1
        overlap.append(active[0] > 1)
        seen.append(i)
        active[0] -= 1

    for i in range(50):
        runner.submit("h", handler, i)
    assert runner.close(deadline())
    assert seen == list(range(50)) and not any(overlap)
    stats = runner.stats()
    assert (stats["calls"], stats["returned"], stats["timed_out"], stats["skipped"]) == (50, 50, 0, 0)


def test_full_backlog_skips_calls_and_counts_them(errors: Errors) -> None:
    """With max_pending=2 and the handler busy, the third and fourth waiting calls are skipped and counted."""
    runner = CallbackRunner(errors, 5.0, max_pending=2)
    entered, release = threading.Event(), threading.Event()
    done: list[int] = []

    def handler(i: int) -> None:
        if i == 0:
            entered.set()
            release.wait()
        done.append(i)

    runner.submit("h", handler, 0)
    assert entered.wait(10)
    calls = [runner.submit("h", handler, i) for i in range(1, 5)]
    release.set()
    assert runner.close(deadline()) is False  # not everything was delivered
    assert done == [0, 1, 2]
    assert [c.outcome for c in calls if c is not None] == ["returned", "returned", "skipped", "skipped"]
    assert runner.stats()["skipped"] == 2
    assert [type(e) for _, e in errors.seen] == [HandlerSkippedError, HandlerSkippedError]


def test_hung_handler_is_abandoned_and_held_back(errors: Errors) -> None:
    """A call past its timeout is counted; with max_abandoned=1 the handler gets no new thread, and close does not wait for it."""
    runner = CallbackRunner(errors, 0.05, max_abandoned=1)
    release = threading.Event()
    calls: list[int] = []

    def hang(i: int) -> None:
        calls.append(i)
        release.wait()

    try:
        for i in range(3):
            runner.submit("hang", hang, i)
        assert runner.close(deadline(3600)) is False  # returns although the deadline is an hour away
        assert calls == [0]
        assert [type(e) for _, e in errors.seen] == [HandlerTimeoutError, HandlerSkippedError]
        stats = runner.stats()
        assert (stats["timed_out"], stats["skipped"]) == (1, 2)
    finally:
        release.set()


def test_a_hung_thread_that_returns_takes_the_waiting_calls(errors: Errors) -> None:
    """With every thread it may use hung, calls wait; when the hung call returns, its thread runs them in order."""
    runner = CallbackRunner(errors, 0.05, max_abandoned=1)
    release = threading.Event()
    seen: list[int] = []

    def handler(i: int) -> None:
        if i == 0:
            release.wait()
        seen.append(i)

    first = runner.submit("h", handler, 0)
    assert first is not None and first.done.wait(10) and first.outcome == "timed_out"
    later = [runner.submit("h", handler, i) for i in (1, 2)]
    release.set()
    assert all(c is not None and c.done.wait(10) for c in later)
    assert seen == [0, 1, 2] and [c.outcome for c in later if c is not None] == ["returned", "returned"]
    runner.close(deadline())


def test_skip_policy_skips_calls_while_a_call_hangs(errors: Errors) -> None:
    """A "skip" lane (event callbacks) drops the calls that arrive while its timed-out call still hangs."""
    runner = CallbackRunner(errors, 0.05, while_hung="skip")
    release = threading.Event()

    def hang(i: int) -> None:
        if i == 0:
            release.wait()

    try:
        first = runner.submit("cb", hang, 0)
        assert first is not None and first.done.wait(10) and first.outcome == "timed_out"
        skipped = [runner.submit("cb", hang, i) for i in (1, 2)]
        assert [c.outcome for c in skipped if c is not None] == ["skipped", "skipped"]
        assert "timed out" in str(errors.seen[1][1])
    finally:
        release.set()
    runner.close(deadline())


def test_sync_callable_returning_a_coroutine_is_awaited(errors: Errors) -> None:
    """A plain callable that returns a coroutine (e.g. a wrapper) has it run on the lane's loop."""
    runner = CallbackRunner(errors, 5.0)
    ran = threading.Event()

    async def work() -> None:
        await asyncio.sleep(0)
        ran.set()

    runner.submit("wrapper", lambda: work())
    assert runner.close(deadline())
    assert ran.is_set() and errors.seen == []


def test_async_callable_object_is_recognised_and_cancelled_at_its_timeout(errors: Errors) -> None:
    """An object whose __call__ is async runs on the lane's loop; what it raises is counted; a hung one is cancelled."""
    cancelled = threading.Event()

    class Hook:
        async def __call__(self, value: int) -> None:
            if value == 7:
                raise KeyError(value)
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

    runner = CallbackRunner(errors, 0.1)
    runner.submit("hook", Hook(), 7)
    stuck = runner.submit("hook", Hook(), 8)
    assert stuck is not None and stuck.done.wait(10)
    runner.close(deadline())
    assert stuck.outcome == "timed_out" and cancelled.is_set()
    assert [(n, type(e)) for n, e in errors.seen] == [("hook", KeyError), ("hook", HandlerTimeoutError)]


def test_call_that_cannot_start_is_counted(errors: Errors) -> None:
    """An async handler called with the wrong arguments fails at creation and is counted; the next call runs."""
    runner = CallbackRunner(errors, 5.0)
    got: list[int] = []

    async def handler(value: int) -> None:
        got.append(value)

    runner.submit("h", handler)  # missing argument
    runner.submit("h", handler, 1)
    assert runner.close(deadline()) is False
    assert got == [1] and [type(e) for _, e in errors.seen] == [TypeError]


def test_idle_runner_starts_no_thread_and_refuses_after_close(errors: Errors) -> None:
    """A runner never used starts no thread; submit after close returns None."""
    before = threading.active_count()
    runner = CallbackRunner(errors, 5.0)
    assert threading.active_count() == before
    assert runner.close(deadline())
    assert runner.submit("h", print) is None


def test_timeout_must_be_positive(errors: Errors) -> None:
    """A zero or infinite timeout is refused, naming the keyword."""
    with pytest.raises(ValueError, match="alert_handler_timeout"):
        CallbackRunner(errors, 0)
    with pytest.raises(ValueError, match="callback_timeout"):
        CallbackRunner(errors, float("inf"), argument="callback_timeout")


def test_untimed_lane_gives_up_at_the_close_deadline_and_returns_what_it_held(errors: Errors) -> None:
    """A handler lane (no timeout) stuck at the close deadline hands back the running and the waiting calls, with their weights."""
    lane = IsolatedLane("slow", errors)
    entered, release = threading.Event(), threading.Event()

    def deliver(batch: list[int]) -> None:
        entered.set()
        release.wait()

    try:
        lane.submit(deliver, [1, 2, 3], weight=3)
        assert entered.wait(10)
        lane.submit(deliver, [4, 5], weight=2)
        given_up = lane.close(deadline(0.2))
        assert [(c.outcome, c.weight) for c in given_up] == [("timed_out", 3), ("skipped", 2)]
        assert lane.submit(deliver, [6]).outcome == "skipped"  # closed: nothing more is fed to the handler
    finally:
        release.set()
