"""The sinks one pipeline feeds, kept in step with a live handler list.

``monitor.metric_handlers`` and ``monitor.log_handlers`` are the user's
lists: assigning a new list, or ``append``, ``remove``, ``extend``, ``clear``
on it, takes effect at the next batch, as in afterimage. A ``SinkSet``
compares the list's contents (by identity) with what it feeds, once per
batch and at each flush: a few ids per batch, no lock, nothing on the record
path. A handler added gets its own lane (or, with ``runs_inline``, is called
on the worker thread) and is bound (``bind_monitor``); a handler removed is
flushed and closed after the batches it already has, and its counts stay
in ``stats()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from genmon.monitor.engine.failures import HandlerErrors, SinkAccount, handler_name
from genmon.monitor.engine.queueing import remaining_s
from genmon.monitor.engine.workers import HandlerLane

Deliver = Callable[..., None]
DeliverFactory = Callable[[], Deliver]


class InlineSink:
    """A handler called on the worker thread itself (the run directory's files: a write per run of lines)."""

    __slots__ = ("account", "handler", "name")

    def __init__(self, handler: Any, name: str, errors: HandlerErrors) -> None:
        self.handler = handler
        self.name = name
        self.account = SinkAccount(name, errors)

    def call(self, method: str, deadline: float | None, errors: HandlerErrors) -> None:
        fn = getattr(self.handler, method, None)
        if callable(fn):
            try:
                fn(remaining_s(deadline, 5.0))
            except Exception as error:  # noqa: BLE001 - isolate the sink
                errors.record(self.name, error)


class SinkSet:
    """The inline sinks and lanes of one pipeline, synced with ``source()`` (the live handler list).

    Args:
        source: returns the handlers to feed now (read once per batch).
        make_deliver: makes a ``deliver(handler, batch)`` function; each thread gets its own.
        errors: shared failure counts.
        taken_names: names already given (unique across the monitor).
        bind: called once with each handler the first time it is fed.
    """

    def __init__(
        self,
        source: Callable[[], Sequence[Any]],
        make_deliver: DeliverFactory,
        errors: HandlerErrors,
        taken_names: set[str],
        bind: Callable[[Any], None] | None = None,
    ) -> None:
        self._source = source
        self._make_deliver = make_deliver
        self._errors = errors
        self._taken = taken_names
        self._bind = bind
        self._seen: tuple[int, ...] | None = None
        self._lock = threading.Lock()  # the worker syncs per batch; a service may add a handler from its thread
        self.inline: list[InlineSink] = []
        self.lanes: list[HandlerLane] = []
        self.retired: list[InlineSink | HandlerLane] = []
        self.sync()

    def sync(self) -> None:
        """Match the sinks to the handler list: start the new ones, retire the removed ones."""
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        try:
            handlers = list(self._source())
        except Exception as error:  # noqa: BLE001 - a broken list assignment must not kill the worker
            self._errors.record("handler-list", error)
            return
        ids = tuple(map(id, handlers))
        if ids == self._seen:
            return
        self._seen = ids
        # One entry per occurrence: the same handler listed twice is fed twice, as afterimage did.
        old: dict[int, list[InlineSink | HandlerLane]] = {}
        current: list[InlineSink | HandlerLane] = [*self.inline, *self.lanes]
        for entry in current:
            old.setdefault(id(entry.handler), []).append(entry)
        inline: list[InlineSink] = []
        lanes: list[HandlerLane] = []
        for handler in handlers:
            matches = old.get(id(handler))
            entry = matches.pop(0) if matches else self._start(handler)
            if isinstance(entry, InlineSink):
                inline.append(entry)
            else:
                lanes.append(entry)
        # Replaced, never mutated: the worker may be iterating the old lists.
        self.inline, self.lanes = inline, lanes
        for leftovers in old.values():
            for entry in leftovers:
                self._retire(entry)

    def _start(self, handler: Any) -> InlineSink | HandlerLane:
        name = handler_name(handler, self._taken)
        if self._bind is not None:
            self._bind(handler)
        if getattr(handler, "runs_inline", False):
            return InlineSink(handler, name, self._errors)
        return HandlerLane(handler, name, self._make_deliver(), self._errors)

    def _retire(self, entry: InlineSink | HandlerLane) -> None:
        """A handler taken off the list: flushed and closed after what it already has."""
        if isinstance(entry, InlineSink):
            entry.call("flush", None, self._errors)
            entry.call("close", None, self._errors)
        else:
            entry.control("flush")
            entry.request_stop(None)
        self.retired.append(entry)

    # -- the pipeline's lifecycle -----------------------------------------------------
    def flush(self, deadline: float | None) -> list[Any]:
        """Flush the inline sinks now; queue a flush on every lane and return the markers to wait for."""
        self.sync()
        for sink in self.inline:
            sink.call("flush", deadline, self._errors)
        markers = [lane.control("flush", deadline) for lane in self.lanes]
        # A retired lane takes no new call: the flush waits for the close queued when it left the list.
        return markers + [lane.close_call for lane in self._retired_lanes() if lane.close_call is not None]

    def stop(self, deadline: float | None, lane_deadline: Callable[[Any], float]) -> None:
        """Close the inline sinks; queue each lane's close behind its batches."""
        self.sync()
        for sink in self.inline:
            sink.call("close", deadline, self._errors)
        for lane in self.lanes:
            lane.request_stop(deadline if deadline is None else lane_deadline(lane.handler))

    def wait_stopped(self, lane_deadline: Callable[[Any], float]) -> bool:
        lanes = [*self.lanes, *self._retired_lanes()]
        return all([lane.wait_stopped(lane_deadline(lane.handler)) for lane in lanes])  # noqa: C419 - every lane

    def _retired_lanes(self) -> list[HandlerLane]:
        return [entry for entry in self.retired if isinstance(entry, HandlerLane)]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per sink, current and retired: received, delivered, dropped by reason, pending."""
        out: dict[str, dict[str, Any]] = {}
        for entry in [*self.retired, *self.inline, *self.lanes]:
            out[entry.name] = entry.account.stats() if isinstance(entry, InlineSink) else entry.stats()
        return out

    def handlers(self) -> list[Any]:
        """The handlers fed now, inline ones first."""
        return [sink.handler for sink in self.inline] + [lane.handler for lane in self.lanes]
