"""Fast ISO-8601 local timestamps with their UTC offset."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any


class IsoFormatter:
    """Formats epoch seconds as local ISO-8601 with offset, caching the per-second prefix.

    ``datetime.fromtimestamp(ts).astimezone().isoformat()`` costs about a
    microsecond; the metric worker formats every point, so the date, time and
    offset are computed once per second and only the microseconds per point.

    Example:
        >>> IsoFormatter()(0.0)[:4] in ("1970", "1969")
        True
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        # (second, date-time text, offset text), replaced as one tuple: threads sharing a
        # formatter never read one second's date with another's offset.
        self._cache: tuple[int, str, str] = (-1, "", "")

    def second_template(self, second: int) -> str:
        """The ISO text of one whole epoch second with ``%06d`` where its microseconds go."""
        cache = self._cache
        if second != cache[0]:
            cache = self._new_second(second)
        return cache[1] + ".%06d" + cache[2]

    def _new_second(self, second: int) -> tuple[int, str, str]:
        local = time.localtime(second)
        cache = self._cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", local), _offset_text(local.tm_gmtoff))
        return cache  # the tuple this thread made, whatever another thread stores meanwhile

    def many(self, stamps: Iterable[float]) -> list[str]:
        """``[self(ts) for ts in stamps]`` for a worker's batch: one %-template per second, filled in C."""
        return self._many(stamps, str)

    def many_bytes(self, stamps: Iterable[float]) -> list[bytes]:
        """``many``, as ASCII bytes (for lines built as bytes)."""
        return self._many(stamps, bytes)

    def _many(self, stamps: Iterable[float], kind: Any) -> list[Any]:
        stamps = stamps if isinstance(stamps, list) else list(stamps)
        if len(stamps) < _FEW:
            texts = list(map(self, stamps))
            return texts if kind is str else [text.encode() for text in texts]
        micros, seconds = micros_by_second(stamps)
        out: list[Any] = []
        for begin, end, second in seconds:
            template = self.second_template(second)
            out.extend(map((template if kind is str else template.encode()).__mod__, micros[begin:end]))
        return out

    def __call__(self, ts: float) -> str:
        second = math.floor(ts)
        cache = self._cache
        if second != cache[0]:
            cache = self._new_second(second)
        micros = min(int((ts - second) * 1_000_000), 999_999)
        return f"{cache[1]}.{micros:06d}{cache[2]}"


_FEW = 32  # below this many stamps, numpy's set-up costs more than it saves


def micros_by_second(stamps: list[float]) -> tuple[list[int], list[tuple[int, int, int]]]:
    """The stamps' microseconds, and their runs of one whole second as (begin, end, second).

    Taken for every stamp at once with numpy, by the same float arithmetic
    as ``IsoFormatter.__call__`` (and never 1,000,000).
    """
    import numpy as np  # loaded by the store's first batch already

    array = np.array(stamps, dtype=np.float64)
    seconds = np.floor(array)
    micros = np.minimum((array - seconds) * 1e6, 999_999).astype(np.int64).tolist()
    starts = [0, *(np.flatnonzero(np.diff(seconds)) + 1).tolist(), len(stamps)]
    return micros, [(begin, end, int(seconds[begin])) for begin, end in pairwise(starts)]


def _offset_text(gmtoff: int) -> str:
    sign = "+" if gmtoff >= 0 else "-"
    minutes = abs(gmtoff) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_datetime(ts: float) -> datetime:
    """An aware datetime in the local zone for epoch seconds."""
    local = time.localtime(math.floor(ts))
    zone = timezone(timedelta(seconds=local.tm_gmtoff))
    return datetime.fromtimestamp(ts, zone)
