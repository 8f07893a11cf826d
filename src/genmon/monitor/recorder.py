"""The record calls beyond ``record_metric``: validate in the caller's thread, then one put, no I/O, no lock.

``GenerationMonitor.record_metrics``, ``track_generation``,
``track_evaluation`` and the log calls delegate here. Each validates its
whole call first (a bad argument raises, naming it, and nothing is
recorded), then puts one item on its queue: a call's several points travel
as one list the worker expands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from genmon.monitor.engine.queueing import BoundedQueue
from genmon.monitor.tracking.events import EventBus
from genmon.monitor.tracking.generation import (
    common_generation_points,
    error_text,
    evaluation_points,
    generation_points,
    log_keywords,
    remember_generation,
)
from genmon.records.log_records import GENERATION_MESSAGE
from genmon.records.point_groups import point_group
from genmon.records.steps import with_step
from genmon.records.validation import (
    INTERNED_METADATA,
    check_log_record,
    check_metadata,
    check_name,
    check_value,
    pack_metadata,
)


class Recorder:
    """One monitor's multi-point and log record calls.

    Args:
        metric_queue: where points go.
        put_log: queues a log tuple ``(ts, level, message, data)``.
        clock: epoch seconds.
        events: the event bus (``track_generation`` fires generation events).
    """

    def __init__(
        self, metric_queue: BoundedQueue, put_log: Callable[[Any], None], clock: Callable[[], float], events: EventBus
    ) -> None:
        self._put_metric = metric_queue.put
        self._put_log = put_log
        self._clock = clock
        self._events = events

    def record_metrics(self, metrics: Mapping[str, float], metadata: dict[str, Any] | None, step: Any = None) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a mapping of name to value, got {type(metrics).__name__}")
        checked = [(check_name(n, "metrics key"), check_value(v, f"metrics[{n!r}]")) for n, v in metrics.items()]
        if step is not None:
            metadata = with_step(metadata, step)
        ts, meta = (self._clock(), None) if metadata is None else check_metadata(metadata, self._clock())
        if checked:  # one point group: the points share the time and the metadata
            names, values = zip(*checked)
            self._put_metric(point_group(names, values, ts, pack_metadata(meta)))
        else:
            self._put_metric([])  # nothing to record, as before: an empty item

    def track_generation(self, duration: Any, success: Any, kwargs: dict[str, Any]) -> None:
        ts = self._clock()
        common = common_generation_points(duration, success, kwargs, ts)
        if common is not None:  # the keywords and text of a call checked before, no error
            self._put_metric(common[0])  # one point group
            # Its log record holds no dict: its data is built by the log worker (records.log_records).
            self._put_log(common[1])
        else:
            ts, points = generation_points(duration, success, kwargs, ts)
            remember_generation(kwargs, points)
            self._put_metric(points)
            # A failed call is an error in the log (afterimage logged every call at info).
            level = "info" if success and not kwargs.get("error") else "error"
            self._put_log((ts, level, GENERATION_MESSAGE, log_keywords(kwargs), duration, success))
        subscribers = self._events.subscribers
        if subscribers["generation_end"] or subscribers["generation_error"]:
            self._events.emit_generation(duration, success, kwargs)

    def track_evaluation(
        self, duration: Any, success: Any, evaluator_type: Any, scores: Any, kwargs: dict[str, Any]
    ) -> None:
        ts, points = evaluation_points(duration, success, evaluator_type, scores, kwargs, self._clock())
        self._put_metric(points)
        keywords = log_keywords(kwargs, evaluator_type=evaluator_type, scores=scores)
        level = "info" if success and not kwargs.get("error") else "error"
        self._put_log((ts, level, "Evaluation metrics", keywords, duration, success))

    def log(
        self,
        level: str,
        message: str,
        timestamp: float | None,
        data: dict[str, Any],
        error: BaseException | None = None,
    ) -> None:
        """Queue a log record; ``error`` adds its text and type."""
        if error is not None:
            data = {"error": error_text(error), "error_type": type(error).__name__, **data}
        check_log_record(level, message, data)
        self._put_log((self._clock() if timestamp is None else timestamp, level, message, data))


def fast_record_metric(
    queue: BoundedQueue, clock: Callable[[], float], full_path: Callable[..., None]
) -> Callable[..., None]:
    """``record_metric`` for the common call (a valid name and float, no step, room in the queue).

    It is the library's hottest call: a closure reads its queue and clock
    from cells instead of attributes, which takes it from about 2x to 1.5x
    the cost of a bare ``SimpleQueue.put``. Metadata of text values seen
    before is one hash away. Every other call takes ``full_path``, which
    validates and applies the full-queue policy.
    """
    depth, enqueue = queue.depth, queue.enqueue
    known_text = _known_text_metadata()

    def record_metric(
        metric_name: str, value: float, metadata: dict[str, Any] | None = None, step: int | None = None
    ) -> None:
        if (
            step is None  # a step travels in the metadata, on the full path (`a is b is None` costs more)
            and type(metric_name) is str
            and metric_name
            and metric_name.isascii()  # an O(1) flag: other text takes the full path's surrogate check
            and type(value) is float
            and value - value == 0.0  # finite
            and depth() < queue.limit
        ):
            if metadata is None:
                enqueue((metric_name, value, clock(), None))
                return
            packed = known_text(metadata)
            if packed is not None:
                enqueue((metric_name, value, clock(), packed))
                return
        full_path(metric_name, value, metadata, step)

    return record_metric


def _known_text_metadata() -> Callable[[Any], Any]:
    """A function giving the packed form of metadata of text values seen before (validation.pack_metadata), else None.

    Such metadata (a model and an operation) was checked in full once and
    interned: it is found by content. A loop records the same metadata again
    and again, so the last one met is kept and found by one dict comparison
    (no allocation), where the interned lookup builds and hashes a tuple of
    items. Equal text content given in another key order is written in the
    order first seen.
    """
    interned = INTERNED_METADATA
    last: list[tuple[dict[str, Any], Any]] = [({}, None)]  # (shared dict, packed), replaced as one tuple

    def known_text(metadata: Any) -> Any:
        if type(metadata) is not dict:
            return None
        seen = last[0]
        try:
            if metadata == seen[0]:  # `seen` holds text values only: equal means the same text
                return seen[1]
            hit = interned.get(tuple(metadata.items()))
        except Exception:  # noqa: BLE001 - unhashable or uncomparable values: the full check
            return None
        if hit is None or hit[1]:  # unseen, or holding numbers (1 == 1.0 == True): the full check
            return None
        last[0] = (hit[0], hit[2])
        return hit[2]

    return known_text
