"""Spans as a table: one row per tracked call, for ``spans_to_dataframe()`` and the Parquet export.

Columns: ``call_id``, ``parent_call_id``, ``name``, ``span_type``,
``model_call`` (True for LLM and CHAT_MODEL spans, see
``genmon.records.model_calls``), ``start`` and ``end`` (time-zone-aware
timestamps, local zone), ``duration_s``, ``success``, ``model_name``,
``component``, ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
``cost_usd``, ``exception_type``, ``exception_message``, ``metadata``
(JSON text), and ``inputs`` and ``outputs`` (JSON text, null when not
captured). Spans come as ``SpanRecord`` objects or as dicts (spans.jsonl
lines); a field a line lacks is null.

Example:
    >>> from genmon.records.spans import SpanRecord
    >>> frame = spans_dataframe([SpanRecord("a1", None, "chat", "LLM", 1.7e9, 0.5, True, "gpt-4o")])
    >>> frame[["name", "model_call", "duration_s"]].values.tolist()
    [['chat', True, 0.5]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from genmon.exporters.columns import json_text, local_timezone
from genmon.records.model_calls import is_model_call

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

TEXT_COLUMNS = ("call_id", "parent_call_id", "name", "span_type", "model_name", "component")
ERROR_COLUMNS = ("exception_type", "exception_message")


def _as_dict(span: Any) -> Mapping[str, Any]:
    if isinstance(span, Mapping):
        return span
    return span.to_dict()  # type: ignore[no-any-return]


def _integer(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _real(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def spans_table(spans: Iterable[Any]) -> pa.Table:
    """An Arrow table of the spans, in the order given."""
    import pyarrow as pa

    rows = [_as_dict(s) for s in spans]
    start = [_real(r.get("start")) for r in rows]
    duration = [_real(r.get("duration_s")) for r in rows]
    prompt = [_integer(r.get("prompt_tokens")) for r in rows]
    completion = [_integer(r.get("completion_tokens")) for r in rows]
    micros = pa.timestamp("us", tz=local_timezone())

    def stamp(values: list[float | None]) -> pa.Array:
        return pa.array([None if v is None else round(v * 1_000_000) for v in values], pa.int64()).cast(micros)

    columns: dict[str, pa.Array] = {
        name: pa.array([_text(r.get(name)) for r in rows], pa.string()) for name in TEXT_COLUMNS[:4]
    }
    columns["model_call"] = pa.array([is_model_call(r.get("span_type")) for r in rows], pa.bool_())
    columns["start"] = stamp(start)
    columns["end"] = stamp([None if s is None or d is None else s + d for s, d in zip(start, duration, strict=True)])
    columns["duration_s"] = pa.array(duration, pa.float64())
    columns["success"] = pa.array(
        [None if r.get("success") is None else bool(r.get("success")) for r in rows], pa.bool_()
    )
    for name in TEXT_COLUMNS[4:]:
        columns[name] = pa.array([_text(r.get(name)) for r in rows], pa.string())
    columns["prompt_tokens"] = pa.array(prompt, pa.int64())
    columns["completion_tokens"] = pa.array(completion, pa.int64())
    totals = [None if p is None and c is None else (p or 0) + (c or 0) for p, c in zip(prompt, completion, strict=True)]
    columns["total_tokens"] = pa.array(totals, pa.int64())
    columns["cost_usd"] = pa.array([_real(r.get("cost_usd")) for r in rows], pa.float64())
    for name in ERROR_COLUMNS:
        columns[name] = pa.array([_text(r.get(name)) for r in rows], pa.string())
    columns["metadata"] = pa.array([json_text(r.get("metadata") or {}) for r in rows], pa.string())
    for name in ("inputs", "outputs"):
        columns[name] = pa.array([None if r.get(name) is None else json_text(r.get(name)) for r in rows], pa.string())
    return pa.table(columns)


def spans_dataframe(spans: Iterable[Any]) -> pd.DataFrame:
    """The spans as a pandas DataFrame (nullable integer token columns)."""
    import pandas as pd
    import pyarrow as pa

    return spans_table(spans).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
