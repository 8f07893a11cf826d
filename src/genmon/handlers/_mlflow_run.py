"""What an MLflow run shows beside the points: params from the monitor's config, its tags, end-of-run summary metrics.

- Params: the monitor's ``config`` flattened to dotted keys
  (``{"sampling": {"temperature": 0.7}}`` -> ``sampling.temperature``), values
  as text the way ``mlflow.log_params`` writes them (``str``; lists as JSON).
  Keys are made MLflow-safe (``mlflow_key``); a value longer than MLflow's
  limit (6,000 characters) is cut with a note saying so; past 1,000 params
  the rest are left out. What did not fit as given is said in the run tag
  ``genmon.params_note``, and the whole config is logged as ``config.json``.
- Tags: the monitor's ``tags``, then the handler's own (which win), keys
  made safe and values cut at MLflow's 8,000 characters.
- Summary metrics: the figures of ``genmon.exporters.calls`` (the report's
  cards and per-model table, over ``genmon.records.model_calls``' model
  calls) under ``summary/...`` names, which no per-point series has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genmon.exporters.calls import CallStats, by_model, headline
from genmon.handlers._mlflow_support import MAX_METRICS_PER_CALL, mlflow_key
from genmon.monitor.store.series_data import SeriesData
from genmon.records.types import RunInfo
from genmon.records.validation import json_options

PARAM_VALUE_LIMIT = 6000  # MLflow's MAX_PARAM_VAL_LENGTH
TAG_VALUE_LIMIT = 8000  # MLflow's MAX_TAG_VAL_LENGTH
MAX_CONFIG_PARAMS = 1000
PARAMS_PER_CALL = 100  # MLflow's MAX_PARAMS_TAGS_PER_BATCH
SUMMARY = "summary"
CONFIG_ARTIFACT = "config.json"
PARAMS_NOTE_TAG = "genmon.params_note"


@dataclass
class RunParams:
    """The config as MLflow params, and what could not be logged as given."""

    params: dict[str, str] = field(default_factory=dict)
    truncated: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def note(self, full_copy: bool) -> str | None:
        """One line for the run tag ``genmon.params_note``; None when every key and value fit."""
        parts = []
        if self.truncated:
            parts.append(f"cut to {PARAM_VALUE_LIMIT:,} characters: {', '.join(self.truncated)}")
        if self.renamed:
            parts.append("keys made MLflow-safe: " + ", ".join(f"{a} -> {b}" for a, b in self.renamed))
        if self.left_out:
            parts.append(f"left out: {', '.join(self.left_out)}")
        if not parts:
            return None
        where = f"; the whole config is in {CONFIG_ARTIFACT}" if full_copy else ""
        return _cut("; ".join(parts) + where, TAG_VALUE_LIMIT)


def param_text(value: Any) -> str:
    """A config value as ``mlflow.log_params`` would write it: ``str`` of scalars, JSON of lists and maps."""
    if isinstance(value, (list, tuple, dict)):
        import orjson

        return orjson.dumps(value, option=json_options(), default=str).decode()
    return str(value)


def config_params(run: RunInfo, full_copy: bool) -> RunParams:
    """The run's config as params; ``full_copy`` says the whole config is logged as config.json too."""
    out = RunParams()
    for key, value in run.flat_config().items():
        name = mlflow_key(key)
        if name in out.params or len(out.params) >= MAX_CONFIG_PARAMS:
            out.left_out.append(key)
            continue
        if name != key:
            out.renamed.append((key, name))
        text = param_text(value)
        if len(text) > PARAM_VALUE_LIMIT:
            where = f"the whole value is in {CONFIG_ARTIFACT}" if full_copy else "cut"
            text = _cut(text, PARAM_VALUE_LIMIT, f" [... {len(text):,} characters; {where}]")
            out.truncated.append(name)
        out.params[name] = text
    return out


def run_tags(run: RunInfo | None, own: Mapping[str, str]) -> dict[str, str]:
    """The run's tags then the handler's own (which win), as MLflow takes them."""
    merged = {**(run.tags if run is not None else {}), **own}
    return {mlflow_key(str(k)): _cut(str(v), TAG_VALUE_LIMIT) for k, v in merged.items()}


def _cut(text: str, limit: int, note: str = " [...]") -> str:
    return text if len(text) <= limit else text[: limit - len(note)] + note


# -- end-of-run summary ------------------------------------------------------------------
def summary_metrics(series: Sequence[SeriesData]) -> dict[str, float]:
    """The run's summary under ``summary/...``: model calls, wrappers by span type, each model; totals of every call.

    See the README's table "MLflow metrics logged at close" for each name.
    """
    figures = headline(series)
    out: dict[str, float | None] = {}
    _call_figures(SUMMARY, figures.model, out, usage=False)
    out[f"{SUMMARY}/total_tokens"] = figures.total_tokens
    out[f"{SUMMARY}/cost_usd"] = figures.cost_usd
    if figures.start is not None and figures.end is not None:
        out[f"{SUMMARY}/duration_s"] = figures.end - figures.start
    for wrapper in figures.wrappers:
        _call_figures(f"{SUMMARY}/wrapper/{mlflow_key(wrapper.label)}", wrapper, out)
    rows, _unnamed = by_model(series)
    for row in rows:
        _call_figures(f"{SUMMARY}/model/{mlflow_key(row.label)}", row, out)
    return {key: float(value) for key, value in out.items() if value is not None}


def _call_figures(prefix: str, row: CallStats, out: dict[str, float | None], usage: bool = True) -> None:
    out[f"{prefix}/calls"] = row.calls
    out[f"{prefix}/errors"] = row.errors
    out[f"{prefix}/error_rate"] = row.error_rate
    out[f"{prefix}/latency_p50_s"] = row.p50
    out[f"{prefix}/latency_p95_s"] = row.p95
    out[f"{prefix}/latency_p99_s"] = row.p99
    if usage:
        out[f"{prefix}/prompt_tokens"] = row.prompt_tokens
        out[f"{prefix}/completion_tokens"] = row.completion_tokens
        out[f"{prefix}/cost_usd"] = row.cost_usd


# -- logging them (on the handler's thread, with its client) -----------------------------
def log_run_info(client: Any, run_id: str, run: RunInfo, own_tags: Mapping[str, str], full_copy: bool) -> int:
    """Log the run's tags and its config as params (and config.json when ``full_copy``); return the params logged."""
    from mlflow.entities import Param, RunTag

    params = config_params(run, full_copy)
    tags = run_tags(run, own_tags)
    note = params.note(full_copy)
    if note is not None:
        tags[PARAMS_NOTE_TAG] = note
    entities: list[Any] = [Param(k, v) for k, v in params.params.items()]
    entities += [RunTag(k, v) for k, v in tags.items()]
    for start in range(0, len(entities), PARAMS_PER_CALL):
        chunk = entities[start : start + PARAMS_PER_CALL]
        client.log_batch(
            run_id,
            params=[e for e in chunk if isinstance(e, Param)],
            tags=[e for e in chunk if isinstance(e, RunTag)],
            synchronous=True,
        )
    if full_copy:
        client.log_dict(run_id, run.config, CONFIG_ARTIFACT)
    return len(params.params)


def log_summary(client: Any, run_id: str, series: Sequence[SeriesData], timestamp_ms: int) -> int:
    """Log ``summary_metrics`` at step 0; return how many."""
    from mlflow.entities import Metric

    metrics = [Metric(key, value, timestamp_ms, 0) for key, value in summary_metrics(series).items()]
    for start in range(0, len(metrics), MAX_METRICS_PER_CALL):
        client.log_batch(run_id, metrics=metrics[start : start + MAX_METRICS_PER_CALL], synchronous=True)
    return len(metrics)
