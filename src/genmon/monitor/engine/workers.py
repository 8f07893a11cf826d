"""Worker threads: a batch worker per record kind, and one lane per handler.

A ``BatchWorker`` drains its ``BoundedQueue`` in batches and hands each batch
to a ``process`` function (store, files, lanes); it stops at a
``Control("stop")`` marker after everything queued before it. A
``HandlerLane`` gives one user handler an ``IsolatedLane`` of its own, so a
slow or hung handler delays only itself.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from genmon.errors import RecordsDropped
from genmon.monitor.engine.failures import THREAD_PREFIX, HandlerErrors, SinkAccount
from genmon.monitor.engine.isolation import Call, IsolatedLane
from genmon.monitor.engine.queueing import BoundedQueue, Control, remaining_s
from genmon.records.point_groups import GROUP_FIELDS, count_points, holds_several, points_in
from genmon.records.spans import SpanRecord

BATCH_SIZE = 4096  # queue items taken at once
# Queue items that are one record each: a point, a log tuple, a span. A batch of only these
# (the common case) needs no search for markers and lists.
_PLAIN_BATCH = frozenset({tuple, SpanRecord})
CHUNK_POINTS = 4096  # records handed to the store and sinks at once (see _process_records)


class BatchWorker:
    """Drains a queue in batches on a named daemon thread.

    Args:
        name: thread name suffix (``genmon-<name>``).
        source: the queue producers put records on.
        process: called with each batch (a list of records) in queue order,
            and the number of points it holds (a point group holds several).
        on_flush: called at a flush marker after every earlier batch was
            processed; returns the lane markers the flush must also wait for.
        on_stop: called once after the last batch, before the thread ends.
    """

    def __init__(
        self,
        name: str,
        source: BoundedQueue,
        process: Callable[[list[Any], int], None],
        on_flush: Callable[[float | None], list[Control]],
        on_stop: Callable[[float | None], None],
    ) -> None:
        self.source = source
        self.processed = 0
        self.failures = 0
        self._process = process
        self._on_flush = on_flush
        self._on_stop = on_stop
        self._stop_deadline: float | None = None
        self.thread = threading.Thread(target=self._run, name=THREAD_PREFIX + name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        get, get_nowait = self.source.get, self.source.get_nowait
        more = range(BATCH_SIZE - 1)
        while True:
            batch = [get()]
            append = batch.append
            try:
                for _ in more:  # the loop that drains the queue: no len() per item
                    append(get_nowait())
            except queue.Empty:
                pass
            if _PLAIN_BATCH.issuperset(map(type, batch)):  # records only (one C pass): no markers, no lists
                if GROUP_FIELDS in map(len, batch):  # point groups (track_generation): several points each
                    points = count_points(batch)
                    self.source.taken(points - len(batch))
                    self._process_chunk(batch, points)
                else:
                    self._process_chunk(batch, len(batch))
                self.source.notify_room()
                continue
            self._taken(batch)
            if self._handle(batch):
                break
        # Producers that passed the closed check just before close() may still
        # have put items after the stop marker: take them too.
        leftovers = []
        try:
            while True:
                leftovers.append(get_nowait())
        except queue.Empty:
            pass
        self._taken(leftovers)
        self._handle([x for x in leftovers if not isinstance(x, Control)])
        for marker in leftovers:
            if isinstance(marker, Control):
                marker.done.set()
        try:
            self._on_stop(self._stop_deadline)
        except Exception:  # noqa: BLE001 - on_stop isolates handlers itself; this guards the thread
            self.failures += 1

    def _taken(self, items: list[Any]) -> None:
        """Tell the queue how many points left it with ``items`` (lists hold several, markers none)."""
        extra = 0
        for item in items:
            if type(item) is Control:
                extra -= 1
            elif holds_several(item):
                extra += points_in(item) - 1
        self.source.taken(extra)

    def _handle(self, batch: list[Any]) -> bool:
        """Process a batch that may contain markers; True when a stop marker was seen."""
        start = 0
        for i, item in enumerate(batch):
            if isinstance(item, Control):
                self._process_records(batch[start:i])
                start = i + 1
                if item.kind == "stop":
                    self._stop_deadline = item.deadline
                    rest = batch[start:]
                    self._process_records([x for x in rest if not isinstance(x, Control)])
                    for late in rest:  # a flush that raced close: nothing more will come
                        if isinstance(late, Control):
                            late.done.set()
                    item.done.set()
                    return True
                self._flush(item)
        self._process_records(batch[start:] if start else batch)
        return False

    def _process_records(self, items: list[Any]) -> None:
        if not items:
            return
        # A queue item is one record (a point, a point group, a log, a span) or a
        # list of records put by one call (one put, not several). Lists are
        # expanded and processed at most CHUNK_POINTS records at a time: their
        # points are tuples the garbage collector tracks, and the fewer are alive
        # at once, the less the application's own collections have to scan.
        records: list[Any] = []
        extend, append = records.extend, records.append
        for item in items:
            if type(item) is list:
                extend(item)
                if len(records) >= CHUNK_POINTS:
                    self._process_chunk(records, count_points(records))
                    records = []
                    extend, append = records.extend, records.append
            else:
                append(item)
        if records:
            self._process_chunk(records, count_points(records))
        self.source.notify_room()

    def _process_chunk(self, records: list[Any], points: int) -> None:
        self.processed += points  # taken from the queue: from now on the store and the sinks account for them
        try:
            self._process(records, points)
        except Exception:  # noqa: BLE001 - a bug in processing must not kill the worker
            self.failures += 1

    def _flush(self, marker: Control) -> None:
        try:
            lanes = self._on_flush(marker.deadline)
        except Exception:  # noqa: BLE001
            self.failures += 1
            lanes = []
        marker.children = lanes
        marker.done.set()


class HandlerLane:
    """One handler on its own ``IsolatedLane``: batches in order, flush and close in line with them.

    Args:
        handler: the user's handler object.
        name: its unique name, used in error counts and the thread name.
        deliver: ``deliver(handler, batch)`` sends one batch to the handler.
        errors: where failures are counted.
        max_batches: batches waiting at most; beyond it new batches are
            dropped and their records counted in ``dropped``.
        lifecycle_timeout_s: passed to the handler's ``flush``/``close`` when no deadline is given.
    """

    def __init__(
        self,
        handler: Any,
        name: str,
        deliver: Callable[[Any, list[Any]], None],
        errors: HandlerErrors,
        max_batches: int = 1024,
        lifecycle_timeout_s: float = 5.0,
    ) -> None:
        self.handler = handler
        self.name = name
        self.account = SinkAccount(name, errors)
        self._deliver = deliver
        self._errors = errors
        self._timeout_s = lifecycle_timeout_s
        self._lane = IsolatedLane(name, errors, kind="lane", max_pending=max_batches)
        # Given up at the close deadline: the handler gets no more records, and what it
        # still held is counted as close_timeout once, by the closer (see wait_stopped).
        self._stop = threading.Event()
        self._accounting = threading.Lock()
        self._in_flight: list[Any] | None = None
        self._written_off = False
        self.close_call: Call | None = None

    @property
    def dropped(self) -> int:
        """Records this handler never got or could not take, whatever the reason."""
        return sum(self.account.stats()["dropped"].values())

    def send(self, batch: list[Any]) -> None:
        """Queue a batch (called from one worker thread only, so ``received`` is exact)."""
        # The batch list is shared by every lane: handlers must not mutate it.
        self.account.received += len(batch)
        call = self._lane.submit(self._deliver_batch, batch, weight=len(batch))
        if call.outcome == "skipped":
            self.account.drop("backlog_full", len(batch))

    def _deliver_batch(self, batch: list[Any]) -> None:
        with self._accounting:
            if self._written_off:
                return
            self._in_flight = batch
        attempt = self.account.attempt(self._deliver, self.handler, batch, stop=self._stop.is_set)
        with self._accounting:
            if self._written_off:
                return  # the closer gave up on this batch and counted it
            self._in_flight = None
            self.account.apply(attempt)

    def control(self, kind: str, deadline: float | None = None) -> Call:
        """Queue the handler's ``flush`` (kind "flush") or ``close`` behind the batches; ``done`` tells when it ran."""
        return self._lane.submit(self._call_lifecycle, "flush" if kind == "flush" else "close", deadline, weight=0)

    def request_stop(self, deadline: float | None) -> None:
        """Queue the handler's ``close`` behind its batches and take nothing more."""
        self.close_call = self.control("close", deadline)
        self._lane.request_close()

    def wait_stopped(self, deadline: float) -> bool:
        """Wait for the lane to run what it holds, by ``deadline``; what is left then is dropped and counted.

        The handler is called no more after that: a batch it was still
        working on counts as dropped too, since genmon cannot know whether
        it got through.
        """
        given_up = self._lane.close(deadline, report=False)  # counted and reported in records below
        if not given_up:
            return True
        self._stop.set()  # a per-record delivery in progress stops at its next record
        with self._accounting:
            self._written_off = True
            left = sum(call.weight for call in given_up if call.outcome == "skipped")  # never started
            if self._in_flight is not None:
                left += len(self._in_flight)
        if left:
            self.account.drop("close_timeout", left)
            self._errors.record(
                self.name,
                RecordsDropped(
                    f"{self.name}: {left} records not delivered by the close deadline", {"close_timeout": left}
                ),
                report=True,
            )
        self._report_remote_loss()
        if self.close_call is None or self.close_call.outcome == "skipped":
            self._abort()
        return False

    def _report_remote_loss(self) -> None:
        """A remote sink cut off by the deadline: what it still holds is written off (close_timeout) and logged."""
        write_off = getattr(self.handler, "write_off", None)
        if not callable(write_off):
            return
        try:
            count = int(write_off())
        except Exception:  # noqa: BLE001 - a report must never fail the close
            return
        if count and self._errors.first_report_on(self.handler):  # once, though it may feed several lanes
            message = f"{self.name}: {count} records still buffered or in flight at the close deadline (not sent)"
            self._errors.record(self.name, RecordsDropped(message, {}), report=True)

    def _abort(self) -> None:
        """The handler's ``close`` never ran: call it with no time left, so a sink can stop its own threads.

        On a thread of its own, joined briefly: a handler hung for good does
        not hold the monitor's close (MLflow marks its run KILLED there).
        """
        closer = getattr(self.handler, "close", None)
        if not callable(closer):
            return

        def close_now() -> None:
            try:
                closer(0.0)
            except Exception as error:  # noqa: BLE001 - isolate the handler
                self._errors.record(self.name, error)

        thread = threading.Thread(target=close_now, name=f"{THREAD_PREFIX}abort-{self.name}", daemon=True)
        thread.start()
        thread.join(0.5)

    def stats(self) -> dict[str, Any]:
        out = self.account.stats(pending=self._lane.pending_weight())
        # A remote sink (HTTP, MLflow) says what became of the records it accepted: sent, dropped, buffered.
        remote = getattr(self.handler, "loss_stats", None)
        if callable(remote):
            try:
                out["remote"] = remote()
            except Exception as error:  # noqa: BLE001 - stats() never fails because of a sink
                out["remote"] = {"error": f"{type(error).__name__}: {error}"}
        return out

    def _call_lifecycle(self, method: str, deadline: float | None) -> None:
        fn = getattr(self.handler, method, None)
        if callable(fn):
            fn(remaining_s(deadline, self._timeout_s))
