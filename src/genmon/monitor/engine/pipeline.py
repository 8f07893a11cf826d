"""One record kind's path: bounded queue, batch worker, inline sinks and handler lanes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from genmon.monitor.engine.failures import HandlerErrors
from genmon.monitor.engine.queueing import BoundedQueue, Control, wait_all
from genmon.monitor.engine.sinks import DeliverFactory, SinkSet
from genmon.monitor.engine.workers import BatchWorker, HandlerLane

LaneDeadline = Callable[[Any], float]  # the close deadline of a handler's lane


class Pipeline:
    """Feeds every batch of one record kind to its sinks, isolated from each other.

    Args:
        kind: "metrics", "logs" or "spans" (thread and error names).
        source: the bounded queue producers put raw records on.
        prepare: turns a batch of raw records into what the store and handlers receive.
        store: called first with each prepared batch (the rolling store), or None.
        handlers: returns the handlers to feed now (the live handler list, read
            once per batch); those with ``runs_inline`` are called on the worker
            thread, every other one gets its own lane (see ``SinkSet``).
        make_deliver: makes a ``deliver(handler, prepared_batch)`` function;
            each thread gets its own.
        errors: shared failure counts.
        taken_names: handler names already used, so every name is unique.
        bind: called once with each handler when it is first fed (``bind_monitor``).
        points: turns a prepared batch into what handlers take unless they say
            (``takes_raw``) they take it as it is: metrics' point groups expanded and
            their packed metadata as dicts, logs' queued tuples as dicts. None: as it is.
        takes_raw: the attribute by which a handler says it takes the prepared batch as it is.
    """

    def __init__(
        self,
        kind: str,
        source: BoundedQueue,
        prepare: Callable[[list[Any]], list[Any]],
        store: Callable[[list[Any]], None] | None,
        handlers: Callable[[], Sequence[Any]],
        make_deliver: DeliverFactory,
        errors: HandlerErrors,
        taken_names: set[str],
        bind: Callable[[Any], None] | None = None,
        points: Callable[[list[Any]], list[Any]] | None = None,
        takes_raw: str = "takes_point_groups",
    ) -> None:
        self.kind = kind
        self.source = source
        self._prepare = prepare
        self._points = points
        self._takes_raw = takes_raw
        self._store = store
        self._deliver = make_deliver()
        self._errors = errors
        self.sinks = SinkSet(handlers, make_deliver, errors, taken_names, bind)
        self._lane_deadline: LaneDeadline = lambda handler: 1e18  # set by request_stop
        self.worker = BatchWorker(kind, source, self._process, self._flush_sinks, self._stop_sinks)
        self.worker.start()

    @property
    def lanes(self) -> list[HandlerLane]:
        return self.sinks.lanes

    def _process(self, batch: list[Any], count: int) -> None:
        """Feed one batch of records (``count`` of them, a point group counted by its points)."""
        sinks = self.sinks
        sinks.sync()  # the handler lists are live: a few ids compared per batch
        records = self._prepare(batch)
        if self._store is not None:
            try:
                self._store(records)
            except Exception as error:  # noqa: BLE001 - a store bug must not cost the files their batch
                self._errors.record(f"{self.kind}-store", error, report=True)
        # Point groups and packed metadata (or queued log tuples) go as they are to the store and
        # to the sinks that take them (metrics.jsonl, genmon.log); every other handler gets point
        # tuples with dicts (or log dicts), made once a batch.
        to_points, takes_raw = self._points, self._takes_raw
        points: list[Any] | None = None if to_points is not None else records
        for sink in sinks.inline:
            sink.account.received += count
            given = records
            if not getattr(sink.handler, takes_raw, False):
                given = points = to_points(records) if points is None else points  # type: ignore[misc]
            sink.account.deliver(self._deliver, sink.handler, given, count)  # a full disk degrades one sink only
        if sinks.lanes:
            given = to_points(records) if points is None else points  # type: ignore[misc]
            for lane in sinks.lanes:
                lane.send(given)

    def _flush_sinks(self, deadline: float | None) -> list[Any]:
        return self.sinks.flush(deadline)

    def _stop_sinks(self, deadline: float | None) -> None:
        self.sinks.stop(deadline, self._lane_deadline)

    # -- called by the monitor ------------------------------------------------
    def request_flush(self, deadline: float | None = None) -> Control:
        marker = Control("flush", deadline)
        self.source.put_control(marker)
        return marker

    def request_stop(self, deadline: float | None = None, lane_deadline: LaneDeadline | None = None) -> Control:
        """Refuse new records and stop the worker after the queued ones; lanes stop by ``lane_deadline(handler)``."""
        if lane_deadline is not None:
            self._lane_deadline = lane_deadline
        self.source.close()
        marker = Control("stop", deadline)
        self.source.put_control(marker)
        return marker

    def wait_stopped(self, deadline: float, lane_deadline: LaneDeadline | None = None) -> bool:
        """Join the worker by ``deadline`` and each lane by its own (a monotonic time); what lanes hold then is counted."""
        self.worker.thread.join(max(deadline - time.monotonic(), 0.0))
        worker_done = not self.worker.thread.is_alive()
        # A stuck worker never asked its lanes to stop: they give up now and count what they hold.
        return self.sinks.wait_stopped(lane_deadline or self._lane_deadline) and worker_done

    def stats(self) -> dict[str, Any]:
        """recorded = processed + dropped + queued, in records, under every ``on_full`` policy.

        ``recorded`` is every record a call accepted (its validation passed);
        ``dropped`` those the full queue refused, by reason; ``processed``
        those the worker took (the store has them, and each sink's own
        account in ``sinks`` says what became of them there).
        """
        dropped = dict(self.source.dropped)
        processed = self.worker.processed
        queued = self.source.queued_points()
        return {
            "recorded": processed + sum(dropped.values()) + queued,
            "processed": processed,
            "dropped": dropped,
            "queued": queued,
            "queue_depth": self.source.qsize(),
            "sinks": self.sinks.stats(),
        }


def wait_marker(marker: Control, deadline: float) -> bool:
    """Wait for a flush marker and the lane markers it spawned, by ``deadline``."""
    # Every lane is waited on (not only up to the first late one), so the healthy
    # lanes are known to be done when a stuck one makes the flush fail.
    return wait_all([marker], deadline) and wait_all(marker.children, deadline)
