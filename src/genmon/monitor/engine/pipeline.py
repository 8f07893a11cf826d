"""One record kind's path: bounded queue, batch worker, inline sinks and handler lanes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from genmon.monitor.engine.failures import HandlerErrors, SinkAccount, handler_name
from genmon.monitor.engine.queueing import BoundedQueue, Control, remaining_s
from genmon.monitor.engine.workers import BatchWorker, HandlerLane

Deliver = Callable[..., None]
DeliverFactory = Callable[[], Deliver]
LaneDeadline = Callable[[Any], float]  # the close deadline of a handler's lane


class Pipeline:
    """Feeds every batch of one record kind to its sinks, isolated from each other.

    Args:
        kind: "metrics", "logs" or "spans" (thread and error names).
        source: the bounded queue producers put raw records on.
        prepare: turns a batch of raw records into what handlers receive.
        store: called first with each raw batch (the rolling store), or None.
        handlers: the user's handlers; those with ``runs_inline`` are called
            on the worker thread, every other one gets its own lane.
        make_deliver: makes a ``deliver(handler, prepared_batch)`` function;
            each thread gets its own.
        errors: shared failure counts.
        taken_names: handler names already used, so every name is unique.
    """

    def __init__(
        self,
        kind: str,
        source: BoundedQueue,
        prepare: Callable[[list[Any]], list[Any]],
        store: Callable[[list[Any]], None] | None,
        handlers: Sequence[Any],
        make_deliver: DeliverFactory,
        errors: HandlerErrors,
        taken_names: set[str],
    ) -> None:
        self.kind = kind
        self.source = source
        self._prepare = prepare
        self._store = store
        self._deliver = make_deliver()
        self._make_deliver = make_deliver
        self._taken_names = taken_names
        self._errors = errors
        self.inline: list[tuple[str, Any, SinkAccount]] = []
        self.lanes: list[HandlerLane] = []
        for handler in handlers:
            name = handler_name(handler, taken_names)
            if getattr(handler, "runs_inline", False):
                self.inline.append((name, handler, SinkAccount(name, errors)))
            else:
                self.lanes.append(HandlerLane(handler, name, make_deliver(), errors))
        self._lane_deadline: LaneDeadline = lambda handler: 1e18  # set by request_stop
        self.worker = BatchWorker(kind, source, self._process, self._flush_sinks, self._stop_sinks)
        self.worker.start()

    def _process(self, batch: list[Any]) -> None:
        if self._store is not None:
            try:
                self._store(batch)
            except Exception as error:  # noqa: BLE001 - a store bug must not cost the files their batch
                self._errors.record(f"{self.kind}-store", error, report=True)
        records = self._prepare(batch)
        for _, handler, account in self.inline:
            account.received += len(records)
            account.deliver(self._deliver, handler, records)  # a full disk degrades one sink only
        for lane in self.lanes:
            lane.send(records)

    def _lifecycle(self, method: str, deadline: float | None) -> None:
        for name, handler, _ in self.inline:
            fn = getattr(handler, method, None)
            if callable(fn):
                try:
                    fn(remaining_s(deadline, 5.0))
                except Exception as error:  # noqa: BLE001 - isolate the sink
                    self._errors.record(name, error)

    def _flush_sinks(self, deadline: float | None) -> list[Any]:
        self._lifecycle("flush", deadline)
        return [lane.control("flush", deadline) for lane in self.lanes]

    def _stop_sinks(self, deadline: float | None) -> None:
        self._lifecycle("close", deadline)
        for lane in self.lanes:
            lane.request_stop(deadline if deadline is None else self._lane_deadline(lane.handler))

    # -- called by the monitor ------------------------------------------------
    def add_handler(self, handler: Any) -> str:
        """Give a handler its own lane from now on (it receives the batches processed after this call).

        The lane list is replaced, not mutated, so the worker iterating the
        old list is unaffected. Must not be called once a stop was requested.
        """
        if self.source.closed:
            raise RuntimeError(f"the {self.kind} pipeline is stopping: no handler can be added")
        name = handler_name(handler, self._taken_names)
        self.lanes = [*self.lanes, HandlerLane(handler, name, self._make_deliver(), self._errors)]
        return name

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
        lane_deadline = lane_deadline or self._lane_deadline
        # A stuck worker never asked its lanes to stop: they give up now and count what they hold.
        lanes_done = all([lane.wait_stopped(lane_deadline(lane.handler)) for lane in self.lanes])  # noqa: C419 - every lane
        return worker_done and lanes_done

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
            "sinks": self.sink_stats(),
        }

    def sink_stats(self) -> dict[str, dict[str, Any]]:
        """Per sink: received, delivered, dropped by reason, and (lanes) pending."""
        out = {name: account.stats() for name, _, account in self.inline}
        out.update({lane.name: lane.stats() for lane in self.lanes})
        return out


def wait_marker(marker: Control, deadline: float) -> bool:
    """Wait for a flush marker and the lane markers it spawned, by ``deadline``."""
    if not marker.done.wait(max(deadline - time.monotonic(), 0.0)):
        return False
    # Wait on every lane (not only up to the first late one) so the healthy
    # lanes are known to be done when a stuck one makes the flush fail.
    results = [child.done.wait(max(deadline - time.monotonic(), 0.0)) for child in marker.children]
    return all(results)
