"""The checks every record call makes, in the caller's thread, before anything is queued.

Each raises ``TypeError`` or ``ValueError`` naming the argument at fault, so
a bad call fails where it was made and nothing is recorded.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import orjson

__all__ = ["RESERVED_METADATA_KEYS", "check_metadata", "check_name", "check_value", "to_epoch", "to_seconds"]

RESERVED_METADATA_KEYS = frozenset({"metric", "value"})
_SCALARS = frozenset({str, int, float, bool, type(None)})


def to_seconds(window: Any, argument: str = "window") -> float:
    """Seconds from a timedelta or a number of seconds; negative values are refused."""
    seconds = window.total_seconds() if isinstance(window, timedelta) else window
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{argument} must be a timedelta or seconds, got {type(window).__name__} {window!r:.80}")
    if not seconds >= 0:
        raise ValueError(f"{argument} must be >= 0 seconds, got {window!r}")
    return float(seconds)


def check_name(name: Any, argument: str = "metric_name") -> str:
    """Return ``name`` if it is a non-empty str, else raise naming ``argument``."""
    if type(name) is str and name:
        return name
    if isinstance(name, str) and name:
        return str(name)
    if isinstance(name, str):
        raise ValueError(f"{argument} must be a non-empty string, got ''")  # noqa: TRY004 - right type, bad value
    raise TypeError(f"{argument} must be a non-empty string, got {type(name).__name__} {name!r:.80}")


def check_value(value: Any, argument: str = "value") -> float:
    """Convert ``value`` to a finite float or raise naming ``argument``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{argument} must be a finite number, got {type(value).__name__} {value!r:.80}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{argument} must be a finite number, got {type(value).__name__} {value!r:.80}") from None
    if not math.isfinite(number):
        raise ValueError(f"{argument} must be a finite number, got {number!r}")
    return number


# Epoch seconds the files can carry as ISO-8601: 1970-01-01 to 9999-12-31.
MAX_EPOCH_S = 253402300800.0


def _in_range(seconds: float, stamp: Any, argument: str) -> float:
    if 0.0 <= seconds < MAX_EPOCH_S:
        return seconds
    raise ValueError(f"{argument} must lie between 1970 and 9999 (epoch seconds, not milliseconds), got {stamp!r:.80}")


def to_epoch(stamp: Any, argument: str = "metadata['timestamp']") -> float:
    """Epoch seconds from a datetime (naive means local time), a number or an ISO-8601 string."""
    if isinstance(stamp, datetime):
        return _in_range(stamp.timestamp(), stamp, argument)
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        if math.isfinite(stamp):
            return _in_range(float(stamp), stamp, argument)
        raise ValueError(f"{argument} must be finite epoch seconds, got {stamp!r}")
    if isinstance(stamp, str):
        try:
            seconds = datetime.fromisoformat(stamp).timestamp()
        except ValueError:
            raise ValueError(f"{argument} must be an ISO-8601 string, got {stamp!r:.80}") from None
        return _in_range(seconds, stamp, argument)
    raise TypeError(
        f"{argument} must be a datetime, epoch seconds or an ISO-8601 string, got {type(stamp).__name__} {stamp!r:.80}"
    )


def check_metadata(metadata: Any, clock_now: float, argument: str = "metadata") -> tuple[float, dict[str, Any] | None]:
    """Validate and copy ``metadata``; return the point's time and the metadata to store.

    A ``timestamp`` key sets the point's time and is removed from the copy.
    """
    if type(metadata) is not dict and not isinstance(metadata, dict):
        raise TypeError(f"{argument} must be a dict or None, got {type(metadata).__name__}")
    meta = dict(metadata)
    scalars = _SCALARS
    for key, item in meta.items():
        if type(key) is not str or key in RESERVED_METADATA_KEYS or type(item) not in scalars:
            _check_entry(key, item, argument)
    if "timestamp" in meta:
        stamp = meta.pop("timestamp")
        when = clock_now if stamp is None else to_epoch(stamp, f"{argument}['timestamp']")
        return when, meta or None
    return clock_now, meta or None


def _check_entry(key: Any, item: Any, argument: str) -> None:
    if type(key) is not str:
        raise TypeError(f"{argument} keys must be strings, got {type(key).__name__} {key!r:.80}")
    if key in RESERVED_METADATA_KEYS:
        raise ValueError(f"{argument} key {key!r} is reserved (it names the point's {key})")
    if key == "timestamp":
        return  # checked by to_epoch
    try:
        orjson.dumps(item, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        raise TypeError(
            f"{argument}[{key!r}] must be JSON-serialisable, got {type(item).__name__} {item!r:.80}"
        ) from None
