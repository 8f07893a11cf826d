"""IsolatedRunner: ordered calls per handler, timeouts, bounded backlog and bounded close."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from genmon.monitor.isolation import HandlerSkippedError, HandlerTimeoutError, IsolatedRunner
from genmon.monitor.workers import HandlerErrors


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
    runner = IsolatedRunner(errors, 5.0)
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
    assert runner.stats() == {"calls": 50, "timeouts": 0, "skipped": 0}


def test_full_backlog_skips_calls_and_counts_them(errors: Errors) -> None:
    """With max_pending=2 and the handler busy, the third and fourth waiting calls are skipped and counted."""
    runner = IsolatedRunner(errors, 5.0, max_pending=2)
    entered, release = threading.Event(), threading.Event()
    done: list[int] = []

    def handler(i: int) -> None:
        if i == 0:
            entered.set()
            release.wait()
        done.append(i)

    runner.submit("h", handler, 0)
    assert entered.wait(10)
    for i in range(1, 5):
        runner.submit("h", handler, i)
    release.set()
    assert runner.close(deadline()) is False  # not everything was delivered
    assert done == [0, 1, 2]
    assert runner.skipped == 2
    assert [type(e) for _, e in errors.seen] == [HandlerSkippedError, HandlerSkippedError]


def test_hung_handler_is_abandoned_and_held_back(errors: Errors) -> None:
    """A call past its timeout is counted; with max_abandoned=1 the handler gets no new thread, and close does not wait for it."""
    runner = IsolatedRunner(errors, 0.05, max_abandoned=1)
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
        assert (runner.timeouts, runner.skipped) == (1, 2)
    finally:
        release.set()


def test_sync_callable_returning_a_coroutine_is_awaited(errors: Errors) -> None:
    """A plain callable that returns a coroutine (e.g. a wrapper) has it run on the asyncio loop."""
    runner = IsolatedRunner(errors, 5.0)
    ran = threading.Event()

    async def work() -> None:
        await asyncio.sleep(0)
        ran.set()

    runner.submit("wrapper", lambda: work())
    assert runner.close(deadline())
    assert ran.is_set() and errors.seen == []


def test_async_callable_object_is_recognised(errors: Errors) -> None:
    """An object whose __call__ is async runs on the loop, and what it raises is counted."""

    class Hook:
        name = "hook"

        async def __call__(self, value: int) -> None:
            raise KeyError(value)

    runner = IsolatedRunner(errors, 5.0)
    runner.submit("hook", Hook(), 7)
    runner.close(deadline())
    assert [(n, type(e)) for n, e in errors.seen] == [("hook", KeyError)]


def test_call_that_cannot_start_is_counted(errors: Errors) -> None:
    """An async handler called with the wrong arguments fails at creation and is counted; the next call runs."""
    runner = IsolatedRunner(errors, 5.0)
    got: list[int] = []

    async def handler(value: int) -> None:
        got.append(value)

    runner.submit("h", handler)  # missing argument
    runner.submit("h", handler, 1)
    assert runner.close(deadline())
    assert got == [1] and [type(e) for _, e in errors.seen] == [TypeError]


def test_idle_runner_starts_no_thread_and_refuses_after_close(errors: Errors) -> None:
    """A runner never used starts no thread; submit after close returns False."""
    before = threading.active_count()
    runner = IsolatedRunner(errors, 5.0)
    assert threading.active_count() == before
    assert runner.close(deadline())
    assert runner.submit("h", print) is False


def test_timeout_must_be_positive(errors: Errors) -> None:
    """A zero handler timeout is refused."""
    with pytest.raises(ValueError, match="timeout"):
        IsolatedRunner(errors, 0)
