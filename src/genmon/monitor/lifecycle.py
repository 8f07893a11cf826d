"""Monitors that outlive their ``with`` block: closed at interpreter exit, restarted as a shard in a forked child.

Worker threads are daemons, so without the exit hook whatever is still
queued when the interpreter exits would be lost. A process forked from a
monitoring one has the parent's objects but none of its threads: each open
monitor starts over there as a new shard (its own queues and files).
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any, Protocol


class Closeable(Protocol):
    def close(self, timeout: float | None = None) -> bool: ...

    def _restart_as_shard(self) -> None: ...


_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def register(monitor: Closeable) -> None:
    """Close ``monitor`` at interpreter exit, and restart it as a shard in forked children, while it is open."""
    _LIVE.add(monitor)


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
