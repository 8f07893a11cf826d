"""Queued log records, and the dicts handlers get from them (afterimage's log shape).

A log travels the queue as a tuple the caller builds cheaply; the log worker
makes each handler's dict (``LogRecords``). There are three kinds:

- ``(ts, level, message, data)``: ``log_info`` and friends; the dict is
  ``{"message", **data, "level", "timestamp"}``.
- ``(ts, level, message, keywords, duration, success)``: a tracking call;
  the dict's ``data`` is ``{"timestamp", "duration", "success", **keywords}``.
- ``(ts, level, message, shape, duration, success, values)``: a common
  ``track_generation`` call (text keywords and metadata seen before, int
  counts). Its keywords are a shared shape and its counts, the last of its
  point values (the tuple its point group holds). The
  shape is JSON text (the names in call order, the values with null where a
  count goes, where each count goes): a str, which the collector never
  tracks. So the whole record holds nothing the collector must scan; a
  nested tuple would keep it tracked and promoted while it waits, and a
  shared one stays tracked for several full collections. genmon.log writes
  such a record from one template per shape (``handlers.log_file``).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from genmon.records.timefmt import IsoFormatter

GENERATION_MESSAGE = "Generation metrics"
COMMON_FIELDS = 7  # the length of a common track_generation call's record
LogShape = str  # JSON: [keyword names in call order, their values with null where a count goes, count slots]
Shape = tuple[list[str], list[Any], list[int]]


def log_shape(kwargs: dict[str, Any], count_keys: list[str]) -> LogShape:
    """The shape of a call's keywords of text (and a metadata dict of text): ``count_keys`` are its numbers.

    ``count_keys`` are listed in the order the call's counts come.
    """
    import orjson

    keys = list(kwargs)
    values = [None if key in count_keys else value for key, value in kwargs.items()]
    return orjson.dumps([keys, values, [keys.index(key) for key in count_keys]]).decode()


def read_shape(shape: LogShape) -> Shape:
    """A shape's names, values and count slots (decoded once per shape; do not mutate)."""
    known = _SHAPES.get(shape)
    if known is None:
        import orjson

        if len(_SHAPES) > 4096:
            _SHAPES.clear()
        keys, values, slots = orjson.loads(shape)
        known = _SHAPES[shape] = (keys, values, slots)
    return known


def shape_keywords(shape: LogShape, numbers: tuple[Any, ...]) -> dict[str, Any]:
    """A common call's keywords as the caller gave them (its metadata a new dict).

    ``numbers`` are the call's point values: its counts are the last ones.
    """
    keys, values, slots = read_shape(shape)
    filled = list(values)
    for slot, count in zip(slots, numbers[len(numbers) - len(slots) :]):
        filled[slot] = count
    keywords = dict(zip(keys, filled))
    if "metadata" in keywords:
        keywords["metadata"] = dict(keywords["metadata"])
    return keywords


_SHAPES: dict[str, Shape] = {}


def common_record(ts: float, shape: LogShape, duration: float, success: Any, values: tuple[Any, ...]) -> Any:
    """The queued record of a common track_generation call: ``values`` are its points' (shared with its group)."""
    return (ts, "info" if success else "error", GENERATION_MESSAGE, shape, duration, success, values)


class LogRecords:
    """Turns queued log tuples into afterimage-shaped dicts, on the log worker (one instance per thread)."""

    def __init__(self) -> None:
        self._iso = IsoFormatter()

    def __call__(self, batch: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        return list(map(as_dict, batch, self._iso.many(map(_TIME, batch))))

    def stamps(self, batch: list[tuple[Any, ...]]) -> list[bytes]:
        """The records' ISO times, as bytes."""
        return self._iso.many_bytes(list(map(_TIME, batch)))


def as_dict(item: tuple[Any, ...], stamp: str) -> dict[str, Any]:
    """One queued log as a handler's dict, its time given as ISO text."""
    if len(item) == 4:
        _, level, message, data = item
        return {"message": message, **data, "level": level, "timestamp": stamp}
    if len(item) == COMMON_FIELDS:
        _, level, message, shape, duration, success, values = item
        keywords = shape_keywords(shape, values)
    else:
        _, level, message, keywords, duration, success = item
    data = {"timestamp": stamp, "duration": duration, "success": success, **keywords}
    return {"message": message, "data": data, "level": level, "timestamp": stamp}


_TIME = itemgetter(0)  # a queued log's time
