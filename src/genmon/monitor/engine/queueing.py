"""A bounded queue over ``queue.SimpleQueue`` with a named policy for when it is full.

``queue.Queue`` takes a lock and a condition on every put (0.7-1.5 us, and
its throughput collapses with 4 producers); ``SimpleQueue.put`` is one C call
that holds only the GIL. The bound is kept by checking ``qsize()`` before
the put: with several producers the queue can overshoot the bound by at
most one item per producer thread, which is the price of a lock-free put.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from genmon.errors import MonitorClosedError
from genmon.records.point_groups import GROUP_FIELDS, holds_several, points_in
from genmon.records.validation import to_seconds

ON_FULL_POLICIES: tuple[str, ...] = ("block", "drop_oldest", "drop_newest")


def check_queue_options(maxsize: Any, on_full: Any) -> None:
    """ValueError unless ``maxsize`` is a positive int and ``on_full`` a policy name (``max_queue_size``, ``on_full``)."""
    if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
        raise ValueError(f"max_queue_size must be a positive int, got {maxsize!r}")
    if on_full not in ON_FULL_POLICIES:
        raise ValueError(f"on_full must be one of {', '.join(ON_FULL_POLICIES)}; got {on_full!r}")


def deadline_in(timeout: float | None) -> float:
    """A monotonic deadline ``timeout`` seconds away (None or inf: as good as never)."""
    seconds = 1e9 if timeout is None else min(to_seconds(timeout, "timeout"), 1e9)
    return time.monotonic() + seconds


def remaining_s(deadline: float | None, default_s: float) -> float:
    """Seconds left before a monotonic deadline (at least a little), or ``default_s`` without one."""
    if deadline is None:
        return default_s
    return max(deadline - time.monotonic(), 0.05)


class Control:
    """A marker travelling through a queue behind the items put before it."""

    __slots__ = ("children", "deadline", "done", "kind")

    def __init__(self, kind: str, deadline: float | None = None) -> None:
        self.kind = kind  # "flush" or "stop"
        self.deadline = deadline  # time.monotonic() by which sinks should be done; None: their default
        self.done = threading.Event()
        self.children: list[Control] = []  # lane markers a flush also waits for


class BoundedQueue:
    """A multi-producer queue with a size bound, exact drop counts and a close switch.

    The bound counts queue items; a call that records several points at once
    (``track_generation``) puts them as one item (a point group or a list). ``queued_points()`` counts
    points, so ``processed + dropped + queued`` is every point accepted.

    Args:
        maxsize: items held at most before ``on_full`` applies.
        on_full: ``"block"`` waits up to ``block_timeout_s`` for room, then drops
            the new item; ``"drop_oldest"`` discards the oldest queued item;
            ``"drop_newest"`` discards the item being put.
        on_drop: called as ``on_drop(reason, count_so_far)`` after each drop,
            outside any lock; the monitor uses it to log drops.

    Example:
        >>> q = BoundedQueue(2, "drop_newest")
        >>> for i in range(3): q.put(i)
        >>> q.dropped
        {'drop_newest': 1}
    """

    def __init__(
        self,
        maxsize: int,
        on_full: str = "block",
        block_timeout_s: float = 10.0,
        on_drop: Callable[[str, int], None] | None = None,
        name: str = "queue",
    ) -> None:
        check_queue_options(maxsize, on_full)
        self.name = name
        self.maxsize = maxsize
        self.on_full = on_full
        self.block_timeout_s = block_timeout_s
        self.dropped: dict[str, int] = {}
        self._on_drop = on_drop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # The fast path callers may inline: ``if q.depth() < q.limit: q.enqueue(item)
        # else: q.put(item)``. limit drops to -1 at close, so every put then
        # takes the slow path, which raises.
        self.limit = maxsize
        self.depth = self._qsize = self._queue.qsize
        self.enqueue = self._put = self._queue.put
        self._drop_lock = threading.Lock()
        # queued points = qsize() + the points beyond one of every item of several put
        # (_several) + _extra: minus one per marker and per point taken or dropped beyond one
        # an item. A put of several points (track_generation, a tracked call) is counted
        # without a lock: next() on an itertools.count is one C call, atomic under the GIL.
        self._extra = 0
        self._several: dict[int, itertools.count[int]] = {}  # points in an item -> its puts (+ reads)
        self._several_reads: dict[int, int] = {}
        # Re-entrant: a signal handler that drains the monitor may run in the middle of a put.
        self._room = threading.Condition(threading.RLock())
        self._waiters = 0
        self.closed = False
        self.get = self._queue.get
        self.get_nowait = self._queue.get_nowait

    def put(self, item: Any) -> None:
        """Queue ``item``, applying the full-queue policy; raise if closed."""
        if self._qsize() < self.limit:
            self._put(item)
            kind = type(item)  # holds_several(item), inline: every record call passes here
            if kind is list or (kind is tuple and len(item) == GROUP_FIELDS):
                self._count_several(points_in(item))
        else:
            self._put_slow(item)

    def put_several(self, item: Any, points: int) -> None:
        """``put(item)`` for an item known to hold ``points`` points, 2 or more (a tracked call's group)."""
        if self._qsize() < self.limit:
            self._put(item)
            self._count_several(points)
        else:
            self._put_slow(item)

    def put_control(self, marker: Control) -> None:
        """Queue a marker regardless of the bound (markers are never dropped)."""
        self._put(marker)
        self._adjust(-1)

    def put_internal(self, item: Any) -> None:
        """Queue a record from inside the monitor (drop and error reports), never blocking.

        It ignores the bound so that a worker reporting into a full queue
        cannot wait on itself; such records are rare and rate-limited.
        """
        if not self.closed:
            self._put(item)

    def qsize(self) -> int:
        return self._qsize()

    def queued_points(self) -> int:
        """Points waiting in the queue (markers not counted)."""
        with self._drop_lock:
            several = 0
            for points, counter in list(self._several.items()):
                reads = self._several_reads.get(points, 0)
                several += (points - 1) * (next(counter) - reads)  # next() returns puts + earlier reads
                self._several_reads[points] = reads + 1
            return max(self._qsize() + several + self._extra, 0)

    def _count_several(self, points: int) -> None:
        counter = self._several.get(points)
        if counter is None:
            with self._drop_lock:
                counter = self._several.setdefault(points, itertools.count())
        next(counter)

    def taken(self, extra: int) -> None:
        """The consumer took items holding ``extra`` points beyond one per item (markers: -1 each)."""
        if extra:
            self._adjust(-extra)

    def _adjust(self, delta: int) -> None:
        with self._drop_lock:
            self._extra += delta

    def _enqueue(self, item: Any) -> None:
        self._put(item)
        if holds_several(item):
            self._count_several(points_in(item))

    def close(self) -> None:
        """Refuse every later put with ``MonitorClosedError``."""
        self.closed = True
        self.limit = -1
        self.notify_room()

    def notify_room(self) -> None:
        """Wake producers blocked on a full queue (called by the consumer after a drain)."""
        if self._waiters:
            with self._room:
                self._room.notify_all()

    def _put_slow(self, item: Any) -> None:
        if self.closed:
            raise MonitorClosedError(f"the monitor is closed: nothing more can be recorded ({self.name})")
        if self._qsize() < self.maxsize:  # room appeared since the fast check
            self._enqueue(item)
        elif self.on_full == "drop_newest":
            self._count_drop("drop_newest", points_in(item))
        elif self.on_full == "drop_oldest":
            self._drop_oldest_then_put(item)
        else:
            self._block_then_put(item)

    def _drop_oldest_then_put(self, item: Any) -> None:
        try:
            oldest = self._queue.get_nowait()
        except queue.Empty:
            oldest = None
        if isinstance(oldest, Control):
            self._put(oldest)  # markers keep their promise; the item below may overshoot by one
        elif oldest is not None:
            points = points_in(oldest)
            if points != 1:
                self._adjust(1 - points)
            self._count_drop("drop_oldest", points)
        self._enqueue(item)

    def _block_then_put(self, item: Any) -> None:
        deadline = time.monotonic() + self.block_timeout_s
        with self._room:
            self._waiters += 1
            try:
                while self._qsize() >= self.maxsize and not self.closed:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    # A short slice guards against a wake-up sent just before we waited.
                    self._room.wait(min(remaining, 0.05))
            finally:
                self._waiters -= 1
        if self.closed:
            raise MonitorClosedError(f"the monitor is closed: nothing more can be recorded ({self.name})")
        if self._qsize() < self.maxsize:
            self._enqueue(item)
        else:
            self._count_drop("block_timeout", points_in(item))

    def _count_drop(self, reason: str, records: int) -> None:
        with self._drop_lock:
            count = self.dropped[reason] = self.dropped.get(reason, 0) + records
        if self._on_drop is not None:
            self._on_drop(reason, count)


def wait_all(markers: Sequence[Any], deadline: float) -> bool:
    """Wait on every marker's ``done`` by ``deadline`` (monotonic), not only up to the first late one."""
    return all([m.done.wait(max(deadline - time.monotonic(), 0.0)) for m in markers])  # noqa: C419
