"""Alert rules: conditions over rolling windows of the store, and afterimage's built-in ones.

A rule looks at one window of the store and says whether its condition
holds, with the message and evidence an alert would carry
(``Rule.check -> RuleCheck``). When to tell anyone (first firing,
reminders, resolve) is decided by ``genmon.monitor.alerts.state``.

Window statistics come from ``MetricStore.window_stats``, whose cost grows
with the number of blocks in the window, not the number of points.

Example:
    >>> from genmon.monitor.store.metric_store import MetricStore
    >>> store = MetricStore()
    >>> store.append_batch([("latency", 2.5, 100.0, None)])
    >>> ThresholdRule("slow", "latency", 2.0, window=60).check(store, now=110.0, default_window_s=300).holds
    True
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from genmon.records.types import LEVELS, STAT_KEYS

if TYPE_CHECKING:
    from genmon.monitor.store.metric_store import MetricStore

__all__ = [
    "BUILTIN_RULES",
    "COMPARISONS",
    "LEVELS",
    "STATISTICS",
    "NoDataRule",
    "Rule",
    "RuleCheck",
    "ThresholdRule",
    "builtin_rules",
]

# "rate" is points per second over the window; the rest are window_stats keys.
STATISTICS: tuple[str, ...] = (*STAT_KEYS, "rate")
# Statistics that have a value (zero) even when the window holds no point.
_DEFINED_WHEN_EMPTY = frozenset({"count", "sum", "rate"})
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
# Fields a rule adds to the window statistics in ``Alert.data``.
_DATA_KEYS = ("value", "threshold", "comparison", "window_seconds", "sample_count", "min_samples")


@dataclass(frozen=True)
class RuleCheck:
    """One rule's verdict on one pass: whether it holds, what to say, and the evidence."""

    holds: bool
    message: str
    resolved_message: str
    data: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Rule(Protocol):
    """An alert condition over the store, checked on every pass of the alert worker.

    ``cooldown_s`` overrides the monitor's ``alert_cooldown`` for this rule
    (None: use the monitor's).
    """

    @property
    def name(self) -> str: ...

    @property
    def level(self) -> str: ...

    @property
    def cooldown_s(self) -> float | None: ...

    def check(self, store: MetricStore, now: float, default_window_s: float) -> RuleCheck:
        """Evaluate the condition over the window ending at ``now`` (epoch seconds)."""
        ...


def _seconds(value: Any, argument: str, *, allow_zero: bool) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{argument} must be a timedelta or seconds, got {type(value).__name__} {value!r:.80}")
    if not (seconds >= 0 if allow_zero else seconds > 0) or not math.isfinite(seconds):
        raise ValueError(f"{argument} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return float(seconds)


def _check_common(name: Any, metric: Any, level: Any) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"rule name must be a non-empty string, got {name!r:.80}")
    if not isinstance(metric, str) or not metric:
        raise TypeError(f"metric must be a non-empty string, got {metric!r:.80}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")


@dataclass(frozen=True)
class ThresholdRule:
    """Fires while a window statistic of one metric compares to a threshold.

    Args:
        name: the alert's name (unique among the monitor's rules).
        metric: the metric watched.
        threshold: the value compared against.
        comparison: ``">"`` (default), ``">="``, ``"<"`` or ``"<="``; the rule
            holds while ``statistic <comparison> threshold``.
        statistic: mean (default), min, max, sum, count, std, p50, p95, p99,
            last, or rate (points per second over the window).
        window: timedelta or seconds; None uses the monitor's ``alert_window``.
        level: the alert's level: debug, info, warning (default), error, critical.
        min_samples: points the window must hold before the rule can fire;
            None means 1, or 0 for count, sum and rate (which are 0 on an
            empty window, so ``count < 1`` can catch a stalled generator).
        message: a ``str.format`` template for the firing alert, with the
            fields of ``Alert.data`` (value, threshold, metric, statistic,
            window_seconds, sample_count, mean, p95, ...) and ``name``.
        resolved_message: the same for the resolved alert.
        cooldown: seconds or timedelta between reminders while the rule keeps
            holding; None uses the monitor's ``alert_cooldown``.
        fallback_metric: watched instead of ``metric`` while the store holds no
            point of ``metric``: ``set_threshold("cpu_usage", 80)`` watches the
            ``cpu_usage`` you record, else the sampler's ``system/cpu_percent``.
            Alerts name the metric watched in ``data["metric"]`` and, when it is
            the fallback, ``metric`` in ``data["alias"]``.

    Example:
        >>> rule = ThresholdRule("slow_p95", "generation_time", 10.0, statistic="p95", window=60)
        >>> rule.window_s
        60.0
    """

    name: str
    metric: str
    threshold: float
    comparison: str = ">"
    statistic: str = "mean"
    window: timedelta | float | None = None
    level: str = "warning"
    min_samples: int | None = None
    message: str | None = None
    resolved_message: str | None = None
    cooldown: timedelta | float | None = None
    fallback_metric: str | None = None

    def __post_init__(self) -> None:
        _check_common(self.name, self.metric, self.level)
        if self.fallback_metric is not None and (not isinstance(self.fallback_metric, str) or not self.fallback_metric):
            raise TypeError(f"fallback_metric must be a non-empty string or None, got {self.fallback_metric!r:.80}")
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}, got {self.comparison!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {', '.join(STATISTICS)}, got {self.statistic!r}")
        threshold = self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
            raise TypeError(f"threshold must be a finite number, got {threshold!r:.80}")
        if self.min_samples is not None and (type(self.min_samples) is not int or self.min_samples < 0):
            raise ValueError(f"min_samples must be an int >= 0 or None, got {self.min_samples!r}")
        _seconds(self.window, "window", allow_zero=False)
        _seconds(self.cooldown, "cooldown", allow_zero=True)
        # A template with an unknown field fails here, not on the night it first fires.
        sample = dict.fromkeys((*STATISTICS, *_DATA_KEYS), 1.0) | {"name": self.name, "metric": self.metric}
        for template in (self.message, self.resolved_message):
            if template is not None:
                template.format(**sample)

    @property
    def window_s(self) -> float | None:
        return _seconds(self.window, "window", allow_zero=False)

    @property
    def cooldown_s(self) -> float | None:
        return _seconds(self.cooldown, "cooldown", allow_zero=True)

    @property
    def required_samples(self) -> int:
        if self.min_samples is not None:
            return self.min_samples
        return 0 if self.statistic in _DEFINED_WHEN_EMPTY else 1

    def check(self, store: MetricStore, now: float, default_window_s: float) -> RuleCheck:
        """Compare the window statistic with the threshold."""
        window_s = self.window_s or default_window_s
        metric = self.metric
        if self.fallback_metric is not None and not store.count(metric):
            metric = self.fallback_metric
        stats = store.window_stats(metric, now - window_s)
        count = int(stats["count"])
        value: float | None
        if self.statistic == "rate":
            value = count / window_s
        elif count or self.statistic in _DEFINED_WHEN_EMPTY:
            value = float(stats[self.statistic])
        else:
            value = None
        enough = count >= self.required_samples
        holds = enough and value is not None and COMPARISONS[self.comparison](value, self.threshold)
        data = {
            **stats,
            "metric": metric,
            "statistic": self.statistic,
            "value": value,
            "threshold": float(self.threshold),
            "comparison": self.comparison,
            "window_seconds": window_s,
            "sample_count": count,
            "min_samples": self.required_samples,
        }
        if metric != self.metric:
            data["alias"] = self.metric
        fields = {**data, "name": self.name}
        message = resolved = ""
        if holds:
            template = (
                self.message
                or "{metric} {statistic} {value:.4g} {comparison} {threshold:g} over the last {window_seconds:g} s"
            )
            message = template.format(**fields)
        elif value is None:
            resolved = f"{self.name} resolved: no {metric} points in the last {window_s:g} s"
        elif not enough:
            resolved = f"{self.name} resolved: only {count} {metric} points in the last {window_s:g} s"
        else:
            template = (
                self.resolved_message
                or "{name} resolved: {metric} {statistic} {value:.4g}, alert when {comparison} {threshold:g}"
            )
            resolved = template.format(**fields)
        return RuleCheck(holds, message, resolved, data)


@dataclass(frozen=True)
class NoDataRule:
    """Fires when a metric that has points in the store gets none for a whole window.

    A stalled generator stops recording; a threshold on its metrics then sees
    an empty window and stays quiet, so this rule watches the silence itself.
    A metric never recorded does not fire (the run may not have started it).

    Example:
        >>> NoDataRule("generator_stalled", "generation_time", window=120).level
        'warning'
    """

    name: str
    metric: str
    window: timedelta | float | None = None
    level: str = "warning"
    cooldown: timedelta | float | None = None

    def __post_init__(self) -> None:
        _check_common(self.name, self.metric, self.level)
        _seconds(self.window, "window", allow_zero=False)
        _seconds(self.cooldown, "cooldown", allow_zero=True)

    @property
    def cooldown_s(self) -> float | None:
        return _seconds(self.cooldown, "cooldown", allow_zero=True)

    def check(self, store: MetricStore, now: float, default_window_s: float) -> RuleCheck:
        """Holds while the window is empty and the store still holds older points of the metric."""
        window_s = _seconds(self.window, "window", allow_zero=False) or default_window_s
        stats = store.window_stats(self.metric, now - window_s)
        count = int(stats["count"])
        holds = count == 0 and store.count(self.metric) > 0
        data = {
            **stats,
            "metric": self.metric,
            "statistic": "count",
            "value": float(count),
            "threshold": 1.0,
            "comparison": "<",
            "window_seconds": window_s,
            "sample_count": count,
            "min_samples": 0,
        }
        message = f"No {self.metric} points in the last {window_s:g} s"
        resolved = f"{self.name} resolved: {count} {self.metric} points in the last {window_s:g} s"
        return RuleCheck(holds, message, resolved, data)


# afterimage's built-in rules: (constructor keyword, name, metric, comparison,
# default threshold, level, message, resolved message); always the mean.
BUILTIN_RULES: tuple[tuple[str, str, str, str, float, str, str, str], ...] = (
    ("alert_min_success_rate", "low_success_rate", "success_rate", "<", 0.8, "warning",
     "Success rate dropped to {value:.1%}", "Success rate back to {value:.1%}"),
    ("alert_max_generation_time_seconds", "high_generation_time", "generation_time", ">", 30.0, "warning",
     "Average generation time: {value:.1f}s", "Average generation time back to {value:.1f}s"),
    ("alert_max_error_rate", "high_error_rate", "error_rate", ">", 0.2, "error",
     "Error rate increased to {value:.1%}", "Error rate back to {value:.1%}"),
    ("alert_max_prompt_token_mean", "high_token_usage:prompt", "prompt_token_count", ">", 4096.0, "warning",
     "Average token usage: {value:.0f}", "Average token usage back to {value:.0f}"),
    ("alert_max_completion_token_mean", "high_token_usage:completion", "completion_token_count", ">", 4096.0,
     "warning", "Average token usage: {value:.0f}", "Average token usage back to {value:.0f}"),
    ("alert_max_total_token_mean", "high_token_usage:total", "total_token_count", ">", 8192.0, "warning",
     "Average token usage: {value:.0f}", "Average token usage back to {value:.0f}"),
    ("alert_max_conversation_length_mean", "long_conversations", "conversation_length", ">", 2.0, "warning",
     "Average conversation length: {value:.1f} turns", "Average conversation length back to {value:.1f} turns"),
)  # fmt: skip


def builtin_rules(thresholds: Mapping[str, float | None] | None = None) -> list[ThresholdRule]:
    """afterimage's seven rules, with thresholds from its constructor keywords (None: the default)."""
    thresholds = thresholds or {}
    rules = []
    for keyword, name, metric, comparison, default, level, message, resolved in BUILTIN_RULES:
        value = thresholds.get(keyword)
        threshold = default if value is None else value
        rules.append(ThresholdRule(name, metric, threshold, comparison, "mean", None, level, 1, message, resolved))
    return rules
