"""Monitors that outlive their ``with`` block: drained at exit and on SIGTERM, restarted as a shard after fork.

Worker threads are daemons, so without the exit hook whatever is still
queued when the interpreter exits would be lost. SIGTERM (``docker stop``,
Kubernetes, systemd) kills Python without running exit hooks, so genmon
catches it: open monitors drain (bounded by their ``shutdown_timeout``),
then the signal does what it would have done. An application's own
handler is never replaced: when one is set, the monitors are flushed (not
closed, since the application may go on recording) and the handler is
called. SIGINT is handled only where it would kill the process outright;
Python's usual ``KeyboardInterrupt`` already ends in the exit hook.

A process forked from a monitoring one has the parent's objects but none of
its threads: each open monitor starts over there as a new shard (its own
queues and files).
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
import weakref
from types import FrameType
from typing import Any, Protocol

from genmon.monitor.engine.failures import THREAD_PREFIX


class Closeable(Protocol):
    handles_signals: bool

    def close(self, timeout: float | None = None) -> bool: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def _restart_as_shard(self) -> None: ...


_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def register(monitor: Closeable) -> None:
    """Close ``monitor`` at interpreter exit (and drain it on SIGTERM when it handles signals), and restart it
    as a shard in forked children, while it is open."""
    _LIVE.add(monitor)
    if monitor.handles_signals:
        install_signal_handlers()


def unregister(monitor: Closeable) -> None:
    _LIVE.discard(monitor)


@atexit.register
def _close_at_exit() -> None:
    for monitor in list(_LIVE):
        monitor.close()


def _restart_in_child() -> None:
    for monitor in list(_LIVE):
        monitor._restart_as_shard()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_restart_in_child)


def close_at_process_exit(monitor: Closeable) -> None:
    """Also close ``monitor`` through multiprocessing's exit hook (pool workers leave through ``os._exit``).

    multiprocessing's process bootstrap clears finalizers made before it
    and then runs its after-fork hooks: register the finalizer both now and
    from that hook.
    """
    from multiprocessing import util

    def finalize(target: Closeable) -> None:
        util.Finalize(target, type(target).close, args=(target,), exitpriority=100)

    finalize(monitor)
    util.register_after_fork(monitor, finalize)


_PREVIOUS: dict[int, Any] = {}  # signal number -> the handler that was there before genmon's


def install_signal_handlers() -> bool:
    """Drain open monitors on SIGTERM (and on SIGINT where it would kill the process); True if installed.

    Only the main thread may set signal handlers; from any other thread
    this does nothing. Installed once per process, whatever the number of monitors.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signum in _PREVIOUS:
            continue
        previous = signal.getsignal(signum)
        if signum == signal.SIGINT and previous is not signal.SIG_DFL:
            continue  # Python's KeyboardInterrupt (or the application's handler) ends in the exit hook
        if previous is signal.SIG_IGN or previous is None:
            continue  # ignored, or set outside Python: not genmon's to change
        _PREVIOUS[signum] = previous
        signal.signal(signum, _on_signal)
    return True


def _on_signal(signum: int, frame: FrameType | None) -> None:
    previous = _PREVIOUS.get(signum, signal.SIG_DFL)
    monitors = [m for m in list(_LIVE) if getattr(m, "handles_signals", True)]
    if callable(previous):
        _drain_together(monitors, "flush")
        previous(signum, frame)
        return
    _drain_together(monitors, "close")
    # What the signal would have done without genmon: end the process by that signal.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


# A close may pass its deadline a little to log what it lost (the log sinks' share, a hung
# handler's abort); the drain allows it that much, and no more, past the longest timeout.
_REPORT_SHARE = 0.25
_REPORT_GRACE_S = 1.0


def _drain_together(monitors: list[Any], method: str) -> None:
    """Flush or close every monitor at once, each within its ``shutdown_timeout``.

    One after another, N monitors with a hung handler would hold the signal
    N timeouts (and ``docker stop`` sends SIGKILL after 10 s): together they
    share one deadline, the longest of their timeouts.
    """
    start = time.monotonic()
    budget = max((float(getattr(m, "shutdown_timeout", 5.0)) for m in monitors), default=0.0)
    deadline = start + budget * (1 + _REPORT_SHARE) + _REPORT_GRACE_S
    threads = []
    for monitor in monitors:
        # An explicit timeout: a sink's own close budget (MLflow) does not outlast the signal's.
        timeout = float(getattr(monitor, "shutdown_timeout", 5.0))
        drain = getattr(monitor, method)
        thread = threading.Thread(target=drain, args=(timeout,), name=f"{THREAD_PREFIX}signal-{method}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # no new threads at interpreter shutdown: this one in what time is left
            drain(min(timeout, max(start + budget - time.monotonic(), 0.0)))
            continue
        threads.append(thread)
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0.0))
