"""Call figures from a snapshot: the headline over model calls, wrappers by span type, per-model and per-operation rows.

Every call records ``generation_time``, ``error_rate``, token counts and
cost with the same metadata, so calls are grouped by their metadata and
the figures of one group read the same points. Which calls are model
calls is decided by ``genmon.records.model_calls`` alone.

Example:
    >>> from genmon.monitor.store.metric_store import MetricStore
    >>> store = MetricStore()
    >>> store.append_batch([("generation_time", 0.2, 1.7e9, {"span_type": "LLM"}),
    ...                     ("generation_time", 2.5, 1.7e9, {"span_type": "CHAIN"})])
    >>> figures = headline(store.snapshot())
    >>> figures.model.calls, figures.model.p95, [w.label for w in figures.wrappers]
    (1, 0.2, ['CHAIN'])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from genmon.monitor.store.series_data import SeriesData
from genmon.records.model_calls import CALL_METRIC_ORDER, MODEL_CALL, call_kinds, is_call_metric, is_model_call

MODEL_CALLS = "model calls"
MODEL_CALL_LABEL = "model call"  # the span type column of by_operation's model-call rows
NO_OPERATION = "(none)"
Key = Callable[[Mapping[str, Any]], Any]  # a point's metadata -> its group label, or None to leave it out


@dataclass(frozen=True)
class CallStats:
    """Figures of one group of calls: all model calls, one wrapper span type, one model or one operation."""

    label: str
    calls: int = 0
    errors: int | None = None  # None when no error_rate point was recorded
    p50: float | None = None  # seconds
    p95: float | None = None
    p99: float | None = None
    prompt_tokens: float | None = None
    completion_tokens: float | None = None
    cost_usd: float | None = None
    span_type: str | None = None
    operations: tuple[str, ...] = ()

    @property
    def error_rate(self) -> float | None:
        """Failed share of the calls that recorded ``error_rate``; None when none did."""
        return None if self.errors is None or not self._rated else self.errors / self._rated

    _rated: int = field(default=0, repr=False)  # calls with an error_rate point

    @property
    def total_tokens(self) -> float | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0.0) + (self.completion_tokens or 0.0)


@dataclass(frozen=True)
class Headline:
    """The first numbers a reader wants: model calls, wrappers apart, tokens and cost of every call, the time range."""

    model: CallStats
    wrappers: tuple[CallStats, ...] = ()
    total_tokens: float | None = None
    cost_usd: float | None = None
    start: float | None = None
    end: float | None = None
    points: int = 0
    metrics: int = 0


def headline(series_list: Sequence[SeriesData]) -> Headline:
    """Model-call figures, wrapper figures by span type, and run-wide tokens, cost and time range."""
    data = {s.name: s for s in series_list if len(s)}
    model = _group_stats(data, lambda m: MODEL_CALLS if is_model_call(m.get("span_type")) else None)
    wrappers = _group_stats(data, lambda m: None if is_model_call(m.get("span_type")) else str(m["span_type"]).upper())
    tokens = data.get("total_token_count")
    if tokens is None and ("prompt_token_count" in data or "completion_token_count" in data):
        parts = [data[n].values.sum() for n in ("prompt_token_count", "completion_token_count") if n in data]
        total: float | None = float(sum(parts))
    else:
        total = None if tokens is None else float(tokens.values.sum())
    cost = data.get("cost_usd")
    starts = [float(s.timestamps[0]) for s in data.values()]
    ends = [float(s.timestamps[-1]) for s in data.values()]
    return Headline(
        model=model.get(MODEL_CALLS, CallStats(MODEL_CALLS)),
        wrappers=tuple(wrappers[k] for k in sorted(wrappers)),
        total_tokens=total,
        cost_usd=None if cost is None else float(cost.values.sum()),
        start=min(starts) if starts else None,
        end=max(ends) if ends else None,
        points=sum(len(s) for s in data.values()),
        metrics=len(data),
    )


class MetricRow(NamedTuple):
    """One row of ``summary()`` and of the metric tables: its label, its points, and the wrapper span type if any."""

    label: str
    series: SeriesData  # keeps the metric's own name (units are read from it)
    span_type: str | None = None  # None: a model-call row, or a metric that is not a call's


def metric_rows(series_list: Sequence[SeriesData]) -> list[MetricRow]:
    """The rows of a metric table: a call metric over model calls under its name, wrappers apart.

    A call's metrics (``generation_time``, ``error_rate``, tokens, cost,
    ``model_usage:*``, ``finish_reason:*``) keep only the points of model
    calls under their own name, so ``summary().loc["generation_time"]`` is
    the headline's figure. Each wrapper span type's points come after every
    other row, labelled ``"<metric> [<SPAN TYPE>]"`` (``generation_time [CHAIN]``),
    span types sorted, metrics in table order. Should a recorded metric
    already bear that label, the wrapper row is numbered
    (``generation_time [CHAIN #2]``): two rows never share a label.
    Other metrics are whole rows, in the snapshot's order.
    """
    rows: list[MetricRow] = []
    wrappers: dict[str, list[SeriesData]] = {}
    for series in series_list:
        if not len(series) or not is_call_metric(series.name):
            rows.append(MetricRow(series.name, series))
            continue
        kinds = call_kinds(series)
        model = kinds == MODEL_CALL
        if model.all():
            rows.append(MetricRow(series.name, series))
            continue
        if model.any():
            rows.append(MetricRow(series.name, _points(series, model)))
        for kind in dict.fromkeys(kinds[~model].tolist()):
            wrappers.setdefault(kind, []).append(_points(series, kinds == kind))
    taken = {series.name for series in series_list}
    order = {name: index for index, name in enumerate(CALL_METRIC_ORDER)}
    for kind in sorted(wrappers):
        for series in sorted(wrappers[kind], key=lambda s: (order.get(s.name, len(order)), s.name)):
            label = f"{series.name} [{kind}]"
            number = 2
            while label in taken:
                label, number = f"{series.name} [{kind} #{number}]", number + 1
            taken.add(label)
            rows.append(MetricRow(label, series, kind))
    return rows


def _points(series: SeriesData, mask: np.ndarray) -> SeriesData:
    return replace(series, timestamps=series.timestamps[mask], values=series.values[mask], codes=series.codes[mask])


def by_model(series_list: Sequence[SeriesData]) -> tuple[list[CallStats], int]:
    """One row per model over model calls, sorted by model name; and how many model calls named no model."""
    data = {s.name: s for s in series_list if len(s)}

    def key(meta: Mapping[str, Any]) -> Any:
        model = meta.get("model_name")
        return None if model is None or not is_model_call(meta.get("span_type")) else str(model)

    rows = _group_stats(data, key)
    unnamed = _group_stats(
        data, lambda m: "" if m.get("model_name") is None and is_model_call(m.get("span_type")) else None
    )
    return [rows[k] for k in sorted(rows)], unnamed[""].calls if "" in unnamed else 0


def by_operation(series_list: Sequence[SeriesData]) -> list[CallStats]:
    """One row per (span type, operation) over every call: model calls first, then wrappers by span type."""
    data = {s.name: s for s in series_list if len(s)}

    def key(meta: Mapping[str, Any]) -> Any:
        span_type = meta.get("span_type")
        kind = "" if is_model_call(span_type) else str(span_type).upper()
        return (kind, str(meta.get("operation", NO_OPERATION)))

    rows = _group_stats(data, key)
    out = []
    for kind, operation in sorted(rows):
        row = rows[(kind, operation)]
        span_type = kind or MODEL_CALL_LABEL
        out.append(_relabel(row, operation, span_type))
    return out


def _relabel(row: CallStats, label: str, span_type: str) -> CallStats:
    return replace(row, label=label, span_type=span_type)


def _group_stats(data: Mapping[str, SeriesData], key: Key) -> dict[Any, CallStats]:
    """CallStats per label of ``key`` over the call metrics in ``data``."""
    times = _split(data.get("generation_time"), key)
    errors = _split(data.get("error_rate"), key)
    prompt = _split(data.get("prompt_token_count"), key)
    completion = _split(data.get("completion_token_count"), key)
    cost = _split(data.get("cost_usd"), key)
    operations = _operations(data.get("generation_time"), key)
    out = {}
    for label in dict.fromkeys([*times, *errors]):
        values = times.get(label)
        p50 = p95 = p99 = None
        if values is not None and len(values):
            p50, p95, p99 = (float(v) for v in np.percentile(values, [50, 95, 99]))
        failed = errors.get(label)
        out[label] = CallStats(
            label=label if isinstance(label, str) else str(label),
            calls=len(values) if values is not None else len(failed) if failed is not None else 0,
            errors=None if failed is None else int(np.count_nonzero(failed)),
            p50=p50,
            p95=p95,
            p99=p99,
            prompt_tokens=_sum(prompt.get(label)),
            completion_tokens=_sum(completion.get(label)),
            cost_usd=_sum(cost.get(label)),
            operations=operations.get(label, ()),
            _rated=0 if failed is None else len(failed),
        )
    return out


def _sum(values: np.ndarray | None) -> float | None:
    return None if values is None else float(values.sum())


def _labels_per_code(series: SeriesData, key: Key) -> list[Any]:
    return [key(entry or {}) for entry in series.metadata_table]


def _split(series: SeriesData | None, key: Key) -> dict[Any, np.ndarray]:
    """The values of ``series`` grouped by ``key`` of their metadata (points whose label is None left out)."""
    if series is None:
        return {}
    labels = _labels_per_code(series, key)
    ids: dict[Any, int] = {}
    per_code = np.array([-1 if label is None else ids.setdefault(label, len(ids)) for label in labels], dtype=np.int64)
    group = per_code[series.codes]
    return {label: series.values[group == gid] for label, gid in ids.items() if np.any(group == gid)}


def _operations(series: SeriesData | None, key: Key) -> dict[Any, tuple[str, ...]]:
    """The distinct operation names of each group, sorted."""
    if series is None:
        return {}
    found: dict[Any, set[str]] = {}
    used = set(np.unique(series.codes).tolist())
    for code, entry in enumerate(series.metadata_table):
        label = key(entry or {})
        if label is not None and code in used and (entry or {}).get("operation") is not None:
            found.setdefault(label, set()).add(str(entry["operation"]))  # type: ignore[index]
    return {label: tuple(sorted(names)) for label, names in found.items()}
