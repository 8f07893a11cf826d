"""Columns and tables from store snapshots: timestamps, values and metadata, built column-wise.

Every exporter and ``to_dataframe`` goes through here, so the formats agree on
column names, types and times. Work is vectorised: a metadata column is built
once per distinct metadata dict (``SeriesData.metadata_table``) and spread to
the points with an Arrow ``take`` on their codes, never row by row.

Local time: points are stored as epoch seconds; text formats show them as
local ISO-8601 with the UTC offset in force at that instant (DST aware),
exactly as ``genmon.records.timefmt.IsoFormatter`` writes metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from genmon.monitor.store.series_data import SeriesData

if TYPE_CHECKING:
    import pyarrow as pa

# The fixed columns of every long table; a metadata key never takes one of these names.
BASE_COLUMNS = ("metric", "timestamp", "value")
# A leading character that spreadsheet programs read as the start of a formula.
FORMULA_PATTERN = r"^[=+\-@\t\r]"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ISO_WIDTH = 32  # "YYYY-mm-ddTHH:MM:SS.ffffff+HH:MM"


def column_name(key: str) -> str:
    """The column a metadata key is written to (renamed only if it would shadow a base column)."""
    return f"metadata_{key}" if key in BASE_COLUMNS else key


def metadata_keys(series_list: Sequence[SeriesData]) -> list[str]:
    """Every metadata key used by any point, in first-seen order."""
    keys: dict[str, None] = {}
    for series in series_list:
        keys.update(dict.fromkeys(series.metadata_keys()))
    return list(keys)


def neutralise_text(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula; other text is returned as is."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def json_bytes(value: Any) -> bytes:
    """Compact JSON for a metadata value; anything orjson refuses (integers past 64 bits) via the stdlib."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False).encode()


def json_text(value: Any) -> str:
    """Compact JSON text for a nested metadata value (lists, dicts) stored in a flat column."""
    return json_bytes(value).decode()


# -- time --------------------------------------------------------------------
def epoch_micros(ts: np.ndarray) -> np.ndarray:
    """Integer epoch microseconds, truncated exactly as ``IsoFormatter`` does."""
    seconds = np.floor(ts)
    micros = np.minimum(((ts - seconds) * 1e6).astype(np.int64), 999_999)
    return seconds.astype(np.int64) * 1_000_000 + micros


def utc_offsets(ts: np.ndarray) -> np.ndarray:
    """The local UTC offset in seconds in force at each timestamp (int64), DST included.

    One ``localtime`` pair per clock hour touched instead of one call per
    point; hours that contain a transition are resolved point by point.
    """
    n = len(ts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    hours = np.floor(ts / 3600.0).astype(np.int64)
    # Runs of points in the same hour (a long table holds several ascending runs).
    change = np.flatnonzero(hours[1:] != hours[:-1]) + 1
    unique = hours[np.concatenate(([0], change))]
    steps = np.zeros(n, dtype=np.int64)
    steps[change] = 1
    inverse = np.cumsum(steps)
    start = np.array([time.localtime(int(h) * 3600).tm_gmtoff for h in unique.tolist()], dtype=np.int64)
    end = np.array([time.localtime(int(h) * 3600 + 3599).tm_gmtoff for h in unique.tolist()], dtype=np.int64)
    offsets = start[inverse]
    for bucket in np.flatnonzero(start != end).tolist():
        idx = np.flatnonzero(inverse == bucket)
        offsets[idx] = [time.localtime(math.floor(t)).tm_gmtoff for t in ts[idx].tolist()]
    return offsets


def offset_text(seconds: int) -> str:
    """``+HH:MM`` for an offset in seconds."""
    sign = "+" if seconds >= 0 else "-"
    minutes = abs(int(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_wall_micros(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(local wall-clock epoch microseconds, offsets in seconds) for each timestamp."""
    offsets = utc_offsets(ts)
    return epoch_micros(ts) + offsets * 1_000_000, offsets


def iso_strings(ts: np.ndarray) -> pa.StringArray:
    """Local ISO-8601 text with offset for each timestamp, as an Arrow string array.

    Like ``IsoFormatter``, the ``YYYY-mm-ddTHH:MM:SS`` prefix is formatted
    once per distinct local second (Arrow formats those); the microseconds and
    offsets are written as digits into a fixed-width byte matrix.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(ts)
    wall, offsets = local_wall_micros(ts)
    seconds = wall // 1_000_000
    fraction = wall - seconds * 1_000_000
    change = np.flatnonzero(seconds[1:] != seconds[:-1]) + 1
    starts = np.concatenate(([0], change)) if n else np.zeros(0, dtype=np.int64)
    text = pc.cast(pa.array(seconds[starts].view("datetime64[s]")), pa.string())
    ends = np.frombuffer(text.buffers()[1], dtype=np.int32, count=len(starts) + 1, offset=text.offset * 4)
    if n and not np.all(np.diff(ends) == 19):  # years outside 1000-9999: rare, format one by one
        from genmon.records.timefmt import IsoFormatter

        fmt = IsoFormatter()
        return pa.array([fmt(t) for t in ts.tolist()], pa.string())
    matrix = np.empty((n, _ISO_WIDTH), dtype=np.uint8)
    if n:
        prefixes = np.frombuffer(text.buffers()[2], dtype=np.uint8)[ends[0] : ends[-1]].reshape(len(starts), 19)
        matrix[:, :19] = np.repeat(prefixes, np.diff(np.append(starts, n)), axis=0)
        matrix[:, 10] = ord("T")
        matrix[:, 19] = ord(".")
        for position in range(25, 19, -1):
            matrix[:, position] = fraction % 10 + 48
            fraction //= 10
        if offsets.min() == offsets.max():  # the usual case: no DST change inside the export
            matrix[:, 26:] = np.frombuffer(offset_text(int(offsets[0])).encode(), dtype=np.uint8)
        else:
            distinct, which = np.unique(offsets, return_inverse=True)
            texts = b"".join(offset_text(o).encode() for o in distinct.tolist())
            matrix[:, 26:] = np.frombuffer(texts, dtype=np.uint8).reshape(len(distinct), 6)[which]
    positions = np.arange(0, _ISO_WIDTH * (n + 1), _ISO_WIDTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(positions), pa.py_buffer(matrix))


def offsets_note(ts_arrays: Sequence[np.ndarray]) -> str:
    """The distinct UTC offsets of some timestamps, e.g. ``UTC+01:00`` or ``UTC+01:00/+02:00``."""
    seen: set[int] = set()
    for ts in ts_arrays:
        if len(ts):
            seen.update(np.unique(utc_offsets(ts)).tolist())
    if not seen:
        seen.add(time.localtime().tm_gmtoff)
    return "UTC" + "/".join(offset_text(o) for o in sorted(seen))


def local_timezone() -> str:
    """The local zone's IANA name when it can be found, else the current fixed offset (``+01:00``)."""
    from zoneinfo import ZoneInfo

    candidates = []
    if os.environ.get("TZ"):
        candidates.append(os.environ["TZ"].lstrip(":"))
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        try:
            ZoneInfo(name)
        except (ValueError, OSError, KeyError):
            continue
        if "/" in name or name == "UTC":
            return name
    return offset_text(time.localtime().tm_gmtoff)


# -- metadata ----------------------------------------------------------------
def arrow_column(values: list[Any], text_only: bool = False) -> pa.Array:
    """An Arrow array for one metadata key's per-code values.

    Nested values become JSON text; a key holding mixed types (a number here,
    text there) becomes text throughout, numbers written as JSON.
    """
    import pyarrow as pa

    flat = [json_text(v) if isinstance(v, (dict, list, tuple)) else v for v in values]
    if not text_only:
        try:
            return pa.array(flat)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            pass
    return pa.array([v if v is None or isinstance(v, str) else json_text(v) for v in flat], pa.string())


def neutralise_array(array: pa.Array) -> pa.Array:
    """Formula-injection guard for a string column: risky cells get a leading ``'``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        return array
    risky = pc.fill_null(pc.match_substring_regex(array, FORMULA_PATTERN), False)
    if not pc.any(risky).as_py():
        return array
    return pc.if_else(risky, pc.binary_join_element_wise("'", array, ""), array)


@dataclass
class LongTable:
    """All points of a snapshot as one Arrow table, plus where each metric's rows lie."""

    table: pa.Table
    names: list[str]
    bounds: list[tuple[int, int]]  # [start, end) rows of each metric
    keys_by_metric: list[list[str]]  # the metadata keys each metric uses
    column_of: dict[str, str]  # metadata key -> its column's name

    def metric_table(self, index: int, with_metric: bool = False) -> pa.Table:
        """One metric's rows with only its own metadata columns (a zero-copy slice)."""
        start, end = self.bounds[index]
        columns = (["metric"] if with_metric else []) + ["timestamp", "value"]
        columns += [self.column_of[k] for k in self.keys_by_metric[index]]
        return self.table.slice(start, end - start).select(columns)


def long_table(series_list: Sequence[SeriesData], timestamps: str = "instant", neutralise: bool = False) -> LongTable:
    """metric, timestamp, value and one column per metadata key, for every point.

    Args:
        series_list: the snapshot.
        timestamps: ``"instant"`` (tz-aware Arrow timestamps, local zone),
            ``"iso"`` (local ISO-8601 text with offset) or ``"epoch"`` (float seconds).
        neutralise: guard text cells against formula injection (CSV).
    """
    import pyarrow as pa

    lengths = np.array([len(s) for s in series_list], dtype=np.int64)
    names = [s.name for s in series_list]
    ends = np.cumsum(lengths)
    bounds = [(int(e - n), int(e)) for e, n in zip(ends.tolist(), lengths.tolist())]
    ts = np.concatenate([s.timestamps for s in series_list]) if series_list else np.zeros(0)
    # Ints as recorded when every metric of the table was recorded as ints (one column has one type).
    integral = bool(series_list) and all(s.integral for s in series_list)
    values = np.concatenate([s.values for s in series_list]) if series_list else np.zeros(0)
    if integral:
        values = values.astype(np.int64)
    name_array = arrow_column(names, text_only=True) if names else pa.array([], pa.string())
    if neutralise:
        name_array = neutralise_array(name_array)
    metric = name_array.take(pa.array(np.repeat(np.arange(len(names), dtype=np.int32), lengths)))
    if timestamps == "iso":
        stamp: pa.Array = iso_strings(ts)
    elif timestamps == "epoch":
        stamp = pa.array(ts)
    else:
        stamp = pa.array(epoch_micros(ts), pa.timestamp("us", tz=local_timezone()))
    columns: dict[str, pa.Array] = {"metric": metric, "timestamp": stamp, "value": pa.array(values)}

    # One code space across series: each series' codes shifted past the tables before it.
    table: list[dict[str, Any] | None] = []
    shifted = []
    for series in series_list:
        shifted.append(series.codes.astype(np.int64) + len(table))
        table.extend(series.metadata_table)
    codes = pa.array(np.concatenate(shifted)) if shifted else pa.array([], pa.int64())
    keys_by_metric = [s.metadata_keys() for s in series_list]
    column_of: dict[str, str] = {}
    for key in dict.fromkeys(k for keys in keys_by_metric for k in keys):
        per_code = arrow_column([entry.get(key) if entry else None for entry in table])
        if neutralise:
            per_code = neutralise_array(per_code)
        # A key is a header cell in CSV: guarded like any other text there.
        column_of[key] = neutralise_text(column_name(key)) if neutralise else column_name(key)
        columns[column_of[key]] = per_code.take(codes)
    return LongTable(pa.table(columns), names, bounds, keys_by_metric, column_of)
