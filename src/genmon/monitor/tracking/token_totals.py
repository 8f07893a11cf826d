"""Token usage grouped by model, computed from the store without scanning dicts."""

from __future__ import annotations

import threading
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from genmon.monitor.tracking.generation import TOKEN_METRICS
from genmon.records.point_groups import GROUP_FIELDS
from genmon.records.types import ModelTokenUsage, TokenUsageReport
from genmon.records.validation import unpack_metadata

if TYPE_CHECKING:
    from genmon.monitor.store.metric_store import MetricStore

_FIELDS = dict(zip(TOKEN_METRICS, ("prompt_tokens", "completion_tokens", "total_tokens")))
TOKEN_NAMES = frozenset(TOKEN_METRICS)  # the metrics the running totals read


def token_usage(store: MetricStore, start: float | None) -> TokenUsageReport:
    """Sum the token metrics per ``model_name`` (``"unknown"`` where none was given)."""
    import numpy as np  # a reader's cost, not ``import genmon``'s

    by_model: dict[str, dict[str, float]] = {}
    for metric, field in _FIELDS.items():
        data = store.series(metric, start=start)
        if data is None or not len(data):
            continue
        # Sum per metadata code, then per model: one pass over the numbers.
        sums = np.bincount(data.codes, weights=data.values, minlength=len(data.metadata_table))
        present = np.bincount(data.codes, minlength=len(data.metadata_table))
        for code in np.flatnonzero(present).tolist():
            entry = data.metadata_table[code]
            model = (entry or {}).get("model_name") or "unknown"
            counts = by_model.setdefault(str(model), dict.fromkeys(_FIELDS.values(), 0.0))
            counts[field] += float(sums[code])
    return _report(by_model)


def _report(by_model: dict[str, dict[str, float]]) -> TokenUsageReport:
    usages = [
        ModelTokenUsage(
            model_name=model,
            prompt_tokens=round(c["prompt_tokens"]),
            completion_tokens=round(c["completion_tokens"]),
            total_tokens=round(c["total_tokens"]),
        )
        for model, c in sorted(by_model.items())
    ]
    return TokenUsageReport(
        by_model=usages,
        total_prompt_tokens=sum(u.prompt_tokens for u in usages),
        total_completion_tokens=sum(u.completion_tokens for u in usages),
        total_tokens=sum(u.total_tokens for u in usages),
    )


_NOTHING = object()  # no point seen yet (None is a point's "no metadata")
_NAME, _VALUES, _META = itemgetter(0), itemgetter(1), itemgetter(3)


class TokenTotals:
    """Running token totals per model since the monitor started, kept by the metric worker.

    The store forgets old points (retention, the per-metric cap); these sums
    do not, so ``get_total_token_usage()`` over the whole run stays right in
    a run of any length.
    """

    def __init__(self) -> None:
        self._sums: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()
        # A point group's names -> (position, field) of its token counts: found once per set of names.
        self._positions: dict[tuple[str, ...], list[tuple[int, str]]] = {}

    def add(self, records: list[Any]) -> None:
        """Add the token counts of a batch of metric points and point groups."""
        first: Any = records[0] if records else ()
        if len(first) == GROUP_FIELDS and len(set(map(id, map(_META, records)))) == 1:
            names = list(map(_NAME, records))
            if names.count(first[0]) == len(names):  # a loop of calls of one model: sums taken in C
                self._add_one_shape(first[0], first[3], records)
                return
        fields = _FIELDS
        last_meta: Any = _NOTHING
        counts: dict[str, float] = {}
        with self._lock:
            sums = self._sums
            for record in records:
                if len(record) == GROUP_FIELDS:
                    names, values, _, meta, _ = record
                    wanted = self._positions_of(names)
                    if not wanted:
                        continue
                    pairs = [(field, values[i]) for i, field in wanted]
                else:
                    name, value, _, meta = record
                    field = fields.get(name)
                    if field is None:
                        continue
                    pairs = [(field, value)]
                if meta is not last_meta:  # a call's three token points share one metadata dict
                    model = str((unpack_metadata(meta) or {}).get("model_name") or "unknown")
                    found = sums.get(model)
                    counts = found if found is not None else sums.setdefault(model, dict.fromkeys(fields.values(), 0.0))
                    last_meta = meta
                for field, value in pairs:
                    counts[field] += value

    def _positions_of(self, names: tuple[str, ...]) -> list[tuple[int, str]]:
        """(position, field) of the token counts among a point group's names: found once per set of names."""
        wanted = self._positions.get(names)
        if wanted is None:
            if len(self._positions) > 1024:
                self._positions.clear()
            wanted = self._positions[names] = [(i, _FIELDS[n]) for i, n in enumerate(names) if n in _FIELDS]
        return wanted

    def _add_one_shape(self, names: tuple[str, ...], meta: Any, groups: list[Any]) -> None:
        wanted = self._positions_of(names)
        if not wanted:
            return
        values = list(map(_VALUES, groups))
        model = str((unpack_metadata(meta) or {}).get("model_name") or "unknown")
        sums = [(field, sum(map(itemgetter(position), values))) for position, field in wanted]  # in C, no transpose
        with self._lock:
            counts = self._sums.setdefault(model, dict.fromkeys(_FIELDS.values(), 0.0))
            for field, total in sums:
                counts[field] += total

    def report(self) -> TokenUsageReport:
        with self._lock:
            snapshot = {model: dict(counts) for model, counts in self._sums.items()}
        return _report(snapshot)
