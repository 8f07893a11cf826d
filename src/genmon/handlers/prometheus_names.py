"""How genmon metrics are named, typed and labelled in Prometheus.

Prometheus's conventions: a metric name says what is measured and its
base unit (``_seconds``), a counter ends in ``_total``, and what varies
(model, operation, outcome) is a label, never a part of the name; names
hold ``[a-zA-Z0-9_]`` only (colons are for recording rules, and
prometheus_client escapes them differently in the text format and in
OpenMetrics, which is what Prometheus negotiates). The LLM families follow
the OpenTelemetry GenAI metrics where those exist:
``gen_ai.client.operation.duration`` (seconds) and
``gen_ai.client.token.usage`` with ``gen_ai.token.type`` input/output.

What the points of ``track_generation`` and ``monitor.track`` become
(``namespace`` prefix, default ``genmon_``):

| genmon metric | Prometheus family | type | labels beyond ``label_keys`` |
| --- | --- | --- | --- |
| ``success_rate`` (one per call) | ``llm_calls_total`` | counter of points | ``finish_reason``, ``error_type``, ``outcome`` |
| ``generation_time`` | ``llm_operation_duration_seconds`` | histogram | |
| ``prompt_token_count`` / ``completion_token_count`` | ``llm_token_usage_total`` | counter (sum) | ``token_type`` input / output |
| ``cost_usd`` | ``llm_cost_usd_total`` | counter (sum) | |
| ``error_rate``, ``total_token_count``, ``model_usage:*``, ``finish_reason:*`` | not exposed: the labels above say the same | | |

Any other name (``kinds=`` overrides the type, and takes a name above out
of the LLM families): a time word (``time``, ``duration``, ``latency``,
``elapsed``, or ``_seconds`` last) makes a histogram in seconds named
``<name>_seconds``; a ``token`` word a histogram with token buckets; a last
word ``count`` or ``total``, or a ``cost`` word, a counter summing the
values (``<name>_total``); a last word ``rate`` a summary (``_count``
points, ``_sum`` of values: the mean over a window); anything else a gauge
holding the last value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from genmon.records.model_calls import CALL_COUNTER_PREFIXES

TIME_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TOKEN_BUCKETS: tuple[float, ...] = (1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000)
KINDS: tuple[str, ...] = ("counter", "gauge", "histogram", "summary")
OVERFLOW = "__overflow__"

DEFAULT_LABEL_KEYS: tuple[str, ...] = ("model_name", "operation", "span_type", "component")
# Metadata keys whose label is named otherwise: `model`, as in gen_ai.request.model.
LABEL_RENAMES: dict[str, str] = {"model_name": "model"}
# Labels that genmon sets itself, or that Prometheus's histograms and summaries own.
RESERVED_LABELS = frozenset({"le", "quantile", "outcome", "token_type"})
# What a call adds to the label_keys on llm_calls_total (its metadata keys).
CALL_LABEL_KEYS: tuple[str, ...] = ("finish_reason", "error_type")

# Points genmon records that the LLM families already carry: error_rate is
# 1 - success_rate (outcome="error"), total_token_count the sum over
# token_type, model_usage:<model> and finish_reason:<reason> one per call
# (the model and finish_reason labels of llm_calls_total).
REDUNDANT = frozenset({"error_rate", "total_token_count"})
REDUNDANT_PREFIXES: tuple[str, ...] = CALL_COUNTER_PREFIXES

_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
_WORDS = re.compile(r"[a-z0-9]+")
_TIME_WORDS = frozenset({"time", "duration", "latency", "elapsed"})
_NOT_SECONDS = frozenset({"ms", "us", "ns", "millis", "micros", "nanos", "milliseconds", "timestamp"})


@dataclass(frozen=True)
class FamilySpec:
    """One Prometheus family: its name (without namespace, counters without ``_total``) and type.

    ``counts_points``: a counter of points rather than of their values.
    ``fixed_label``: a label genmon sets from the point itself (outcome, token_type).
    """

    name: str
    kind: str
    help: str
    unit: str = ""
    counts_points: bool = False
    fixed_label: str | None = None


LLM_CALLS = FamilySpec(
    "llm_calls",
    "counter",
    "Tracked calls (track_generation, monitor.track) by outcome, from genmon's success_rate points.",
    counts_points=True,
    fixed_label="outcome",
)
LLM_DURATION = FamilySpec(
    "llm_operation_duration_seconds",
    "histogram",
    "Duration of tracked calls in seconds (genmon's generation_time; gen_ai.client.operation.duration).",
    unit="seconds",
)
LLM_TOKENS = FamilySpec(
    "llm_token_usage",
    "counter",
    "Tokens of tracked calls by token_type input/output (prompt/completion_token_count; gen_ai.client.token.usage).",
    fixed_label="token_type",
)
LLM_COST = FamilySpec("llm_cost_usd", "counter", "Cost of tracked calls in US dollars (genmon's cost_usd).")
LLM_FAMILIES: tuple[FamilySpec, ...] = (LLM_CALLS, LLM_DURATION, LLM_TOKENS, LLM_COST)
OVERFLOW_FAMILY = FamilySpec(
    "prometheus_overflowed_points",
    "counter",
    "Points whose label set exceeded max_label_sets and were folded into the __overflow__ label set.",
)

# genmon metric name -> (family, value of its fixed label; None: from the point's value).
LLM_POINTS: dict[str, tuple[FamilySpec, str | None]] = {
    "success_rate": (LLM_CALLS, None),
    "generation_time": (LLM_DURATION, ""),
    "prompt_token_count": (LLM_TOKENS, "input"),
    "completion_token_count": (LLM_TOKENS, "output"),
    "cost_usd": (LLM_COST, ""),
}


def sanitize_metric_name(name: str) -> str:
    """A valid Prometheus metric name without colons: other characters become ``_``; a leading digit gets a ``_`` first."""
    clean = _INVALID_NAME_CHARS.sub("_", name) or "_"
    return "_" + clean if clean[0].isdigit() else clean


def sanitize_label_name(name: str) -> str:
    """A valid label name (``[a-zA-Z_][a-zA-Z0-9_]*``, never the reserved ``__`` prefix)."""
    clean = _INVALID_LABEL_CHARS.sub("_", name) or "_"
    if clean[0].isdigit():
        clean = "_" + clean
    return "l" + clean if clean.startswith("__") else clean


def label_names_for(label_keys: Iterable[str] | Mapping[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The metadata keys and their label names; a mapping names each label, else ``model_name`` becomes ``model``.

    Raises ``ValueError`` for two keys with one label name, or a label genmon or Prometheus owns.
    """
    if isinstance(label_keys, Mapping):
        keys = tuple(label_keys)
        names = tuple(sanitize_label_name(label_keys[k]) for k in keys)
    else:
        keys = tuple(label_keys)
        names = tuple(sanitize_label_name(LABEL_RENAMES.get(k, k)) for k in keys)
    if len(set(names)) != len(names):
        raise ValueError(f"label_keys must give distinct label names once sanitised, got {names!r}")
    reserved = RESERVED_LABELS.intersection(names)
    if reserved:
        raise ValueError(f"label_keys cannot use the labels genmon or Prometheus set: {sorted(reserved)}")
    return keys, names


def _words(name: str) -> list[str]:
    return _WORDS.findall(name.lower())


def is_seconds(name: str) -> bool:
    """True when a name reads as a duration in seconds: a time word, or ``seconds`` as its last word."""
    words = _words(name)
    if not words or _NOT_SECONDS.intersection(words):
        return False
    return words[-1] == "seconds" or bool(_TIME_WORDS.intersection(words))


def is_tokens(name: str) -> bool:
    """True when a word of the name is about tokens (``tokens``, ``prompt_token_count``)."""
    return any(word.startswith("token") for word in _words(name))


def default_kind(name: str) -> str:
    """The Prometheus type a genmon metric outside the LLM families gets by its name (see the module docstring)."""
    words = _words(name)
    if is_seconds(name) or is_tokens(name):
        return "histogram"
    if words and (words[-1] in ("count", "total") or "cost" in words):
        return "counter"
    if words and words[-1] == "rate":
        return "summary"
    return "gauge"


def generic_family(name: str, kind: str) -> FamilySpec:
    """The family of a metric outside the LLM families: its sanitised name, ``_seconds`` for a duration."""
    base = sanitize_metric_name(name)
    unit = ""
    if is_seconds(name):
        unit = "seconds"
        if not base.endswith("_seconds"):
            base += "_seconds"
    elif base.endswith("_bytes"):
        unit = "bytes"
    if kind == "counter" and base.endswith("_total") and len(base) > len("_total"):
        base = base[: -len("_total")]  # exposed as <name>_total either way
    return FamilySpec(base, kind, f"genmon metric {name!r}", unit=unit)


def sample_names(family_name: str, kind: str) -> tuple[str, ...]:
    """Every name a family of this type writes, in the text format or OpenMetrics: what must not clash."""
    suffixes = {
        "counter": ("", "_total", "_created"),
        "gauge": ("",),
        "histogram": ("", "_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
    }[kind]
    return tuple(family_name + suffix for suffix in suffixes)
