"""Token usage grouped by model, computed from the store without scanning dicts."""

from __future__ import annotations

import numpy as np

from genmon.monitor.generation import TOKEN_METRICS
from genmon.monitor.records import ModelTokenUsage, TokenUsageReport
from genmon.monitor.store import MetricStore

_FIELDS = dict(zip(TOKEN_METRICS, ("prompt_tokens", "completion_tokens", "total_tokens")))


def token_usage(store: MetricStore, start: float | None) -> TokenUsageReport:
    """Sum the token metrics per ``model_name`` (``"unknown"`` where none was given)."""
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
