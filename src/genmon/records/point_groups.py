"""A call's points that share one time and metadata, travelling as one record: a point group.

``track_generation`` and ``record_metrics`` record several metrics at one
time with one metadata. Built as point tuples, each call costs the
application eight allocations the garbage collector then tracks while they
wait in the queue, and the worker loops over eight points in Python. As one
group ``(names, values, ts, metadata, count)`` it is one tuple: the store
takes a batch of groups as columns (a transpose in C) and metrics.jsonl
formats a group's lines with one template per set of names. Handlers that
take points get them expanded (``expand``), in order, on the worker.

A group has five fields where a point has four: ``len`` tells them apart
in C over a whole batch. A queue item may also be a list of points and
groups (one call's records with different metadata).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from genmon.records.types import MetricPoint
from genmon.records.validation import unpack_metadata

# (names, values, ts, metadata, count): count == len(names) == len(values)
PointGroup = tuple[tuple[str, ...], tuple[float, ...], float, "dict[str, Any] | None", int]
GROUP_FIELDS = 5


def point_group(names: tuple[str, ...], values: tuple[float, ...], ts: float, meta: dict[str, Any] | None) -> Any:
    """The group of ``names[i] = values[i]`` at ``ts`` with ``meta``: a plain point when there is one name.

    A group always holds two points or more, so a batch whose record count
    equals its point count holds no group.
    """
    count = len(names)
    if count == 1:
        return (names[0], values[0], ts, meta)
    return (names, values, ts, meta, count)


def points_in(item: Any) -> int:
    """The records a queue item holds: a group its points, a list the sum of its items, anything else 1."""
    kind = type(item)
    if kind is tuple:
        return item[4] if len(item) == GROUP_FIELDS else 1  # type: ignore[no-any-return]
    if kind is list:
        return sum(map(points_in, item))
    return 1


def holds_several(item: Any) -> bool:
    """True for a queue item of more than one record slot: a list or a group."""
    kind = type(item)
    return kind is list or (kind is tuple and len(item) == GROUP_FIELDS)


def count_points(records: Sequence[Any]) -> int:
    """The records in a batch, a point group counted by its points."""
    return sum(map(points_in, records))


def expand(records: Sequence[Any]) -> list[MetricPoint]:
    """The batch as handlers take it: point tuples in order, each with its metadata as a dict.

    Each group becomes its points, and packed metadata its dict
    (``validation.unpack_metadata``). A batch of points whose metadata are
    all dicts or None is returned as it is.
    """
    if GROUP_FIELDS not in map(len, records) and tuple not in set(map(type, map(_META, records))):
        return records if isinstance(records, list) else list(records)
    out: list[MetricPoint] = []
    extend, append = out.extend, out.append
    for record in records:
        if len(record) == GROUP_FIELDS:
            names, values, ts, meta, count = record
            extend(zip(names, values, repeat(ts, count), repeat(unpack_metadata(meta), count)))
        elif type(record[3]) is tuple:
            append((record[0], record[1], record[2], unpack_metadata(record[3])))
        else:
            append(record)
    return out


_META = itemgetter(3)
