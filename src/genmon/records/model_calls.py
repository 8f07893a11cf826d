"""What a model call is: the one definition behind every headline figure (calls, error rate, latency).

A model call is a span of type LLM or CHAT_MODEL, or a ``track_generation``
call: a point recorded with no ``span_type`` in its metadata, or with
``span_type`` LLM or CHAT_MODEL there. Every other tracked call is a wrapper
(CHAIN, AGENT, EVALUATOR, TOOL...) and is counted apart, by its span type.
Counting wrappers with model calls misleads: with ``attach``, a 2.5 s batch
call and 20 us evaluator calls halve the error rate and double the p95.

The progress bar of ``genmon demo``, the report's cards and tables,
``genmon tail``, the charts, ``summary()`` (wrappers as ``metric [SPAN TYPE]``
rows), ``summary(by="call_kind")`` and the notebook view all select points
with these functions.

Example:
    >>> is_model_call(None), is_model_call("chat_model"), is_model_call("CHAIN")
    (True, True, False)
    >>> call_kind("evaluator")
    'EVALUATOR'
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, TypeVar

import numpy as np

__all__ = [
    "CALL_METRICS",
    "MODEL_CALL",
    "MODEL_SPAN_TYPES",
    "call_kind",
    "call_kinds",
    "is_call_metric",
    "is_model_call",
    "model_call_mask",
    "model_calls",
]

MODEL_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL"})
MODEL_CALL = "model"  # the call kind of a model call; a wrapper's kind is its span type
# The metrics each call records (track_generation, or a tracked call on exit).
CALL_METRIC_ORDER = (  # in the order tables show them
    "generation_time",
    "success_rate",
    "error_rate",
    "prompt_token_count",
    "completion_token_count",
    "total_token_count",
    "cost_usd",
)
CALL_METRICS = frozenset(CALL_METRIC_ORDER)
CALL_COUNTER_PREFIXES = ("model_usage:", "finish_reason:")  # one counter a call, named by its model or reason


class PointsLike(Protocol):
    """What the point-level helpers read of a series (``SeriesData`` has it)."""

    @property
    def timestamps(self) -> np.ndarray: ...

    @property
    def values(self) -> np.ndarray: ...

    @property
    def codes(self) -> np.ndarray: ...

    @property
    def metadata_table(self) -> tuple[dict[str, Any] | None, ...]: ...


S = TypeVar("S", bound=PointsLike)


def is_model_call(span_type: Any) -> bool:
    """True for no span type (a ``track_generation`` call) and for LLM and CHAT_MODEL, in any case."""
    if span_type is None:
        return True
    return isinstance(span_type, str) and span_type.upper() in MODEL_SPAN_TYPES


def call_kind(span_type: Any) -> str:
    """``"model"`` for a model call, else the wrapper's span type in upper case."""
    return MODEL_CALL if is_model_call(span_type) else str(span_type).upper()


def is_call_metric(name: str) -> bool:
    """True for the metrics recorded once per call (``generation_time``, ``error_rate``, tokens, cost...)."""
    return name in CALL_METRICS or name.startswith(CALL_COUNTER_PREFIXES)


def call_kinds(series: PointsLike) -> np.ndarray:
    """The call kind of each point (an object array of ``"model"`` or span types)."""
    per_code = np.array([call_kind((entry or {}).get("span_type")) for entry in series.metadata_table], dtype=object)
    return per_code[series.codes] if len(per_code) else np.array([], dtype=object)


def model_call_mask(series: PointsLike) -> np.ndarray:
    """A boolean mask of the points recorded by model calls."""
    per_code = np.array([is_model_call((entry or {}).get("span_type")) for entry in series.metadata_table], dtype=bool)
    return per_code[series.codes] if len(per_code) else np.zeros(len(series.codes), dtype=bool)


def model_calls(series: S) -> S:
    """The same series holding only the points of model calls (a copy; the input is unchanged)."""
    mask = model_call_mask(series)
    if mask.all():
        return series
    fields = {"timestamps": series.timestamps[mask], "values": series.values[mask], "codes": series.codes[mask]}
    return dataclasses.replace(series, **fields)  # type: ignore[type-var]
