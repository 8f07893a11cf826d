"""The checks every record call makes, in the caller's thread, before anything is queued.

Each raises ``TypeError`` or ``ValueError`` naming the argument at fault, so
a bad call fails where it was made and nothing is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from genmon.records.types import LEVELS

__all__ = [
    "ENCODING_ERRORS",
    "INT64_MAX",
    "INT64_MIN",
    "RESERVED_METADATA_KEYS",
    "check_json_data",
    "check_metadata",
    "check_name",
    "check_run_info",
    "check_text",
    "check_value",
    "safe_text",
    "to_epoch",
    "to_seconds",
]

RESERVED_METADATA_KEYS = frozenset({"metric", "value"})
# What every file and Parquet column can hold: a metadata integer past int64 cannot be written.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


# The options every sink encodes with (metrics.jsonl, genmon.log, spans.jsonl, HTTP): checking
# with the same ones means a record accepted at the call can always be written.
# (orjson is imported where a value needs it: a record of plain scalars never loads it.)
def json_options() -> int:
    import orjson

    return orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


_PLAIN = frozenset({float, bool, type(None)})
# What encoding a record that cannot be written raises: orjson's JSONEncodeError is a
# TypeError, and text with a lone surrogate fails its encoding to UTF-8 (a ValueError).
ENCODING_ERRORS = (TypeError, ValueError, OverflowError, RecursionError)


def check_text(text: str, argument: str) -> str:
    """Return ``text`` if it can be written as UTF-8, else raise ``ValueError`` naming ``argument``.

    Only a lone surrogate (``"\\ud800"``, from bad decoding or ``surrogateescape``)
    cannot; ASCII text is answered from a flag CPython keeps on every string.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{argument} holds a lone surrogate at position {error.start} ({text[error.start]!r}), "
            f"which no file can hold: {safe_text(text)!r:.80}"
        ) from None
    return text


def safe_text(text: str) -> str:
    """``text`` with any lone surrogate written as its escape (``\\ud800``): always valid UTF-8."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def safe_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """``meta`` itself when every reader can write it, else a copy whose bad entries are text.

    The record calls refuse what cannot be written; this guards what
    reached a store some other way (a file read back, a direct append), so
    that one bad entry never breaks an export, a DataFrame or a chart.
    """
    bad = False
    for key, item in meta.items():
        kind = type(item)
        if type(key) is not str or not key.isascii() or (kind is str and not item.isascii()):
            bad = True
            break
        if kind not in _PLAIN and kind is not str and (kind is not int or not INT64_MIN <= item <= INT64_MAX):
            bad = True
            break
    if not bad:
        return meta
    clean: dict[str, Any] = {}
    for key, item in meta.items():
        name = safe_text(key if isinstance(key, str) else str(key))
        if isinstance(item, str):
            clean[name] = safe_text(item)
        elif type(item) is int and not INT64_MIN <= item <= INT64_MAX:
            clean[name] = str(item)
        elif type(item) in _PLAIN or type(item) is int:
            clean[name] = item
        else:
            try:
                import orjson

                orjson.dumps(item, option=json_options())
                clean[name] = item
            except (TypeError, ValueError, RecursionError):
                clean[name] = safe_text(repr(item))
    return clean


def to_seconds(window: Any, argument: str = "window") -> float:
    """Seconds from a timedelta or a number of seconds; negative values are refused."""
    seconds = window.total_seconds() if isinstance(window, timedelta) else window
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{argument} must be a timedelta or seconds, got {type(window).__name__} {window!r:.80}")
    if not seconds >= 0:
        raise ValueError(f"{argument} must be >= 0 seconds, got {window!r}")
    return float(seconds)


def check_name(name: Any, argument: str = "metric_name") -> str:
    """Return ``name`` if it is a non-empty str that files can hold, else raise naming ``argument``."""
    if type(name) is str and name:
        return name if name.isascii() else check_text(name, argument)
    if isinstance(name, str) and name:
        return check_text(str(name), argument)
    if isinstance(name, str):
        raise ValueError(f"{argument} must be a non-empty string, got ''")  # noqa: TRY004 - right type, bad value
    raise TypeError(f"{argument} must be a non-empty string, got {type(name).__name__} {name!r:.80}")


def check_value(value: Any, argument: str = "value") -> float:
    """``value`` as a finite number, or raise naming ``argument``.

    An int (a bool counts as 0 or 1) within float's exact range (2**53) stays
    an int, so files write it as afterimage did (``"value": 100``); anything
    else number-like becomes a float.
    """
    kind = type(value)
    if kind is int and -_EXACT_INT <= value <= _EXACT_INT:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return int(value)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{argument} must be a finite number, got {type(value).__name__} {value!r:.80}")
    try:
        number = float(value)
    except OverflowError:  # an int past float's range (10**400)
        digits = len(str(abs(value))) if isinstance(value, int) else None
        shown = f"an int of {digits} digits" if digits else f"{type(value).__name__} {value!r:.80}"
        raise ValueError(f"{argument} must be a finite number, got {shown}") from None
    except (TypeError, ValueError):
        raise TypeError(f"{argument} must be a finite number, got {type(value).__name__} {value!r:.80}") from None
    if not math.isfinite(number):
        raise ValueError(f"{argument} must be a finite number, got {number!r}")
    return number


_EXACT_INT = 2**53  # the largest int every float64 column holds exactly

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
    Keys must be text; values plain scalars (ASCII text costs one flag
    check, an int one range check) or anything JSON-serialisable.

    A small dict of scalars seen before is answered from a bounded cache by
    its content: the call then costs one hash, and every point recorded with
    that content shares one dict, so the files and the store encode it once.
    The dict returned is shared: nobody may mutate it.
    """
    if type(metadata) is dict:
        try:
            hit = _INTERNED.get(tuple(metadata.items()))  # unhashable values (lists) raise: the full check
        except TypeError:
            hit = None
        if hit is not None and (not hit[1] or _same_types(hit[0], metadata)):
            return clock_now, hit[0]
    elif not isinstance(metadata, dict):
        raise TypeError(f"{argument} must be a dict or None, got {type(metadata).__name__}")
    meta = dict(metadata)
    plain = _PLAIN
    internable = len(meta) <= _INTERN_MAX_KEYS
    numeric = False
    for key, item in meta.items():
        if type(key) is not str or not key.isascii() or key in RESERVED_METADATA_KEYS:
            _check_key(key, argument)
        kind = type(item)
        if kind is str:
            if not item.isascii():
                check_text(item, f"{argument}[{key!r}]")
        elif kind is int:
            if not INT64_MIN <= item <= INT64_MAX:
                _int_out_of_range(item, f"{argument}[{key!r}]")
            numeric = True
        elif kind not in plain and key != "timestamp":
            _check_json(item, f"{argument}[{key!r}]")
            internable = False
        else:
            numeric = numeric or kind is not type(None)
    if "timestamp" in meta:
        stamp = meta.pop("timestamp")
        when = clock_now if stamp is None else to_epoch(stamp, f"{argument}['timestamp']")
        return when, meta or None
    if not meta:
        return clock_now, None
    if internable:
        _intern(tuple(meta.items()), meta, numeric)
    return clock_now, meta


# Small metadata dicts of scalars by content: (shared dict, holds a number). Content equal
# across types (1 == 1.0 == True) is told apart by comparing types when numbers are held.
_INTERNED: dict[tuple[tuple[str, Any], ...], tuple[dict[str, Any], bool, tuple[tuple[str, Any], ...]]] = {}
INTERNED_METADATA = _INTERNED  # read by record_metric's fast path; cleared in place, never rebound
_INTERN_LIMIT = 4096
_INTERN_MAX_KEYS = 16


def intern_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The shared dict for ``meta``'s content (``meta`` itself the first time): for metadata already checked.

    ``meta`` must hold plain scalars (text, ints, floats, bools) and never be
    mutated afterwards.
    """
    try:
        key = tuple(meta.items())
        hit = _INTERNED.get(key)
    except TypeError:
        return meta
    if hit is not None and (not hit[1] or _same_types(hit[0], meta)):
        return hit[0]
    if len(meta) <= _INTERN_MAX_KEYS:
        _intern(key, meta, any(type(v) is not str for v in meta.values()))
    return meta


def _intern(key: tuple[tuple[str, Any], ...], meta: dict[str, Any], numeric: bool) -> None:
    if len(_INTERNED) >= _INTERN_LIMIT:
        _INTERNED.clear()  # bounded: unique-per-point metadata (request ids) must not fill memory
    _INTERNED[key] = (meta, numeric, key)


# Packed metadata: an interned text-only metadata dict as its items tuple, put in points
# instead of the dict. A tuple holding a dict is never untracked by the collector, so every
# queued point would be scanned and promoted; a tuple of text pairs is untracked once seen.
Packed = tuple[tuple[str, Any], ...]


def pack_metadata(meta: dict[str, Any] | None) -> Any:
    """The packed form of an interned text-only metadata dict; any other metadata as it is."""
    if not meta:
        return meta
    try:
        hit = _INTERNED.get(tuple(meta.items()))
    except TypeError:
        return meta
    return hit[2] if hit is not None and hit[0] is meta and not hit[1] else meta


def unpack_metadata(meta: Any) -> dict[str, Any] | None:
    """A point's metadata as a dict: the interned one for ``pack_metadata``'s own tuple, else a new one.

    An equal tuple may hold other types (``(("x", 1),) == (("x", True),)``), so only identity counts.
    """
    if type(meta) is not tuple:
        return meta  # type: ignore[no-any-return]
    try:
        hit = _INTERNED.get(meta)
    except TypeError:  # items holding a list or a dict (a stored span's metadata): never interned
        return dict(meta)
    return hit[0] if hit is not None and hit[2] is meta else dict(meta)


def _same_types(shared: dict[str, Any], given: dict[str, Any]) -> bool:
    return all(type(a) is type(b) for a, b in zip(shared.values(), given.values(), strict=True))


def check_json_data(data: dict[str, Any], argument: str) -> None:
    """Raise naming ``argument[key]`` if a value of ``data`` (log data, extra keywords) cannot be written.

    The log sinks write any object (``str()`` of what JSON cannot hold), so
    only what fails even then is refused: a cycle, a lone surrogate, an
    integer past 64 bits, an object whose ``str()`` raises.
    """
    plain = _PLAIN
    for key, item in data.items():
        if not key.isascii():
            check_text(key, f"{argument} key")
        kind = type(item)
        if kind is str:
            if not item.isascii():
                check_text(item, f"{argument}[{key!r}]")
        elif kind is int:
            if not -(2**64) < item < 2**64:
                _int_out_of_range(item, f"{argument}[{key!r}]")
        elif kind not in plain:
            _check_json(item, f"{argument}[{key!r}]", default=str)


def check_run_info(run_name: Any, tags: Any, config: Any) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    """Validate ``GenerationMonitor``'s ``run_name``, ``tags`` and ``config``; return them as plain copies.

    Tags are text to text (as MLflow and Prometheus want them); config is any
    JSON-serialisable mapping with text keys (nested values are fine).
    """
    if run_name is not None:
        if not isinstance(run_name, str) or not run_name:
            raise TypeError(f"run_name must be a non-empty string or None, got {run_name!r:.80}")
        check_text(run_name, "run_name")
    clean_tags: dict[str, str] = {}
    if tags is not None:
        if not isinstance(tags, Mapping):
            raise TypeError(f"tags must be a mapping of text to text, got {type(tags).__name__}")
        for key, value in tags.items():
            if not isinstance(key, str) or not key or not isinstance(value, str):
                raise TypeError(f"tags must map non-empty text to text, got {key!r:.40}: {value!r:.40}")
            clean_tags[check_text(key, "tags key")] = check_text(value, f"tags[{key!r}]")
    clean_config: dict[str, Any] = {}
    if config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping, got {type(config).__name__}")
        for key, value in config.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"config keys must be non-empty text, got {key!r:.40}")
            check_text(key, "config key")
            _check_json(value, f"config[{key!r}]")
            clean_config[key] = value
    return run_name, clean_tags, clean_config


def _check_key(key: Any, argument: str) -> None:
    if type(key) is not str:
        raise TypeError(f"{argument} keys must be strings, got {type(key).__name__} {key!r:.80}")
    if key in RESERVED_METADATA_KEYS:
        raise ValueError(f"{argument} key {key!r} is reserved (it names the point's {key})")
    check_text(key, f"{argument} key")


def _int_out_of_range(item: int, argument: str) -> None:
    raise ValueError(
        f"{argument} must be an integer that fits in 64 bits (files and Parquet hold int64), "
        f"got one of {len(str(abs(item)))} digits; record it as text or a float"
    )


def _check_json(item: Any, argument: str, default: Any = None) -> None:
    try:
        import orjson

        orjson.dumps(item, option=json_options(), default=default)
    except (TypeError, ValueError, RecursionError) as error:
        raise TypeError(
            f"{argument} must be JSON-serialisable ({error}), got {type(item).__name__} {safe_text(repr(item))[:80]}"
        ) from None


def check_log_record(level: Any, message: Any, data: dict[str, Any]) -> None:
    """Refuse, naming the argument, a log record that the log files could not hold."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r:.40}")
    if not isinstance(message, str):
        raise TypeError(f"message must be a string, got {type(message).__name__}")
    check_text(message, "message")
    if data:
        check_json_data(data, "data")
