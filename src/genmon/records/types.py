"""The record types shared with afterimage: ``Alert``, token usage reports, and the metric point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

__all__ = [
    "STAT_KEYS",
    "Alert",
    "LogLevel",
    "MetricPoint",
    "ModelTokenUsage",
    "RunInfo",
    "TokenUsageReport",
    "WindowStats",
    "empty_stats",
]

# afterimage's LogLevel was Literal["info", "warning", "error"]; genmon also logs debug and critical.
LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LEVELS: tuple[str, ...] = get_args(LogLevel)  # in order of severity

# A metric point as it travels from the record call to the store and the handlers:
# (metric_name, value, timestamp as epoch seconds, metadata or None).
MetricPoint = tuple[str, float, float, "dict[str, Any] | None"]


@dataclass
class Alert:
    """One firing of an alert rule (the fields of afterimage's Alert)."""

    name: str
    message: str
    level: str
    timestamp: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelTokenUsage:
    """Token usage for a single model."""

    model_name: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass
class TokenUsageReport:
    """Token usage: a per-model breakdown plus totals, for cost calculation."""

    by_model: list[ModelTokenUsage]
    total_prompt_tokens: int = 0
    total_completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class RunInfo:
    """What a run is: its name, tags and configuration, as given to ``GenerationMonitor``.

    Written to ``run.json`` in the run directory, shown in reports and
    ``genmon tail``, and sent to the sinks that have a place for it (MLflow
    run name, tags and params; OTLP resource attributes; the HTTP envelope).
    """

    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"run_name": self.run_name, "tags": dict(self.tags), "config": dict(self.config)}

    def is_empty(self) -> bool:
        """True when the run was given no name, tag or config."""
        return self.run_name is None and not self.tags and not self.config

    @staticmethod
    def value_text(value: Any) -> str:
        """A config value as the report and ``genmon tail`` show it: text as it is, anything else as sorted JSON."""
        if isinstance(value, str):
            return value
        import orjson  # a reader's cost, not ``import genmon``'s

        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
        except TypeError:
            return str(value)

    def flat_config(self) -> dict[str, Any]:
        """The config with nested mappings flattened to dotted keys (``{"sampling": {"t": 0.7}}`` -> ``sampling.t``).

        Leaves are kept as they are (lists too); what the sinks that take flat
        keys (MLflow params, OTLP resource attributes) show.
        """
        out: dict[str, Any] = {}
        pending: list[tuple[str, Any]] = list(self.config.items())[::-1]
        while pending:
            key, value = pending.pop()
            if isinstance(value, Mapping):
                pending.extend((f"{key}.{k}", v) for k, v in list(value.items())[::-1])
            else:
                out[key] = value
        return out


STAT_KEYS = ("mean", "min", "max", "count", "sum", "std", "p50", "p95", "p99", "last")


class WindowStats(dict):  # type: ignore[type-arg]
    """A dict of window statistics that is falsy when the window holds no point.

    afterimage returned ``{}`` for an empty window, so code written for it
    tests ``if stats and stats["mean"] < x``; the keys are always present here.
    """

    def __bool__(self) -> bool:
        return bool(self["count"])


def empty_stats() -> WindowStats:
    stats = WindowStats(dict.fromkeys(STAT_KEYS, 0.0))
    stats["count"] = 0
    return stats
