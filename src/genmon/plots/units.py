"""Units and number formats shared by the report, the terminal tables, the notebook view and chart labels.

A metric's kind is read from its name (afterimage's naming: ``*_time`` in
seconds, ``*_token_count``, ``cost_usd``, ``*_bytes``, ``*_rate`` as 0/1 per
call) and its values (all 0 or 1: a rate; all 1: a counter). Each kind has
a unit and a scale chosen for the values (ms or s; B, kB, MB, GB), and
numbers are written with three significant digits, thousands separators
and no exponent.

Example:
    >>> format_seconds(0.0407), format_seconds(2.41), format_bytes(44_800_000)
    ('40.7 ms', '2.41 s', '44.8 MB')
    >>> format_number(0.001246), format_number(101791), format_usd(0.3876)
    ('0.00125', '101,791', '$0.388')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from genmon.records.model_calls import CALL_COUNTER_PREFIXES

_BYTE_UNITS = ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))
_GAUGE_PREFIXES = ("process/", "system/")  # the resource sampler's readings


def format_number(value: float | None, digits: int = 3) -> str:
    """Three significant digits, thousands separators, trailing zeros dropped, no exponent down to 1e-6."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    value = float(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{value:,.0f}"
    if magnitude < -6:
        return f"{value:.{digits - 1}e}"
    text = f"{value:,.{digits - 1 - magnitude}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_seconds(value: float | None) -> str:
    """``18 µs`` under a millisecond, ``40.7 ms`` under a second, ``2.41 s``, ``12.5 min`` from two minutes."""
    if value is None:
        return ""
    if 0 < abs(value) < 0.001:
        return f"{format_number(value * 1e6)} µs"
    if abs(value) < 1:
        return f"{format_number(value * 1000)} ms"
    if abs(value) < 120:
        return f"{format_number(value)} s"
    if abs(value) < 7200:
        return f"{format_number(value / 60)} min"
    return f"{format_number(value / 3600)} h"


def format_bytes(value: float | None) -> str:
    """``44.8 MB``: decimal units, as disks and networks count."""
    if value is None:
        return ""
    for limit, unit in _BYTE_UNITS:
        if abs(value) >= limit:
            return f"{format_number(value / limit)} {unit}"
    return f"{format_number(value)} B"


def format_usd(value: float | None) -> str:
    """``$0.388``, ``$1,204``; tiny amounts keep three significant digits (``$0.00125``)."""
    return "" if value is None else f"${format_number(value)}"


def format_percent(share: float | None) -> str:
    """A share in 0-1 as ``8.4%`` (``0%`` and ``100%`` exact)."""
    if share is None:
        return ""
    if share in (0.0, 1.0):
        return f"{share:.0%}"
    return f"{share * 100:.1f}%"


def plural(count: float, noun: str, plural_noun: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``1,204 calls``."""
    word = noun if count == 1 else (plural_noun or noun + "s")
    return f"{count:,.0f} {word}" if float(count).is_integer() else f"{count:,} {word}"


@dataclass(frozen=True)
class MetricKind:
    """How one metric's numbers read: its unit, the scale its values are divided by, and what to show."""

    unit: str  # shown beside the numbers: "ms", "s", "tokens", "$", "MB", "MB/s", "%", ""
    scale: float = 1.0  # values are divided by this before formatting
    percentiles: bool = True  # False for 0/1 metrics and counters
    is_share: bool = False  # 0/1 per event: the mean is a percentage
    is_counter: bool = False  # every value is 1: only the count and total mean something
    summable: bool = True  # False for gauges (memory, CPU %, threads...): their sum means nothing

    def cell(self, value: float | None) -> str:
        """One number in this kind's unit and scale, without the unit."""
        if value is None:
            return ""
        if self.is_share:
            return format_percent(value)
        return format_number(value / self.scale)


def metric_kind(name: str, values: np.ndarray) -> MetricKind:
    """The kind of a metric from its name and values (the scale fits the values' p95)."""
    lower = name.lower()
    finite = values[np.isfinite(values)] if len(values) else values
    binary = bool(len(finite)) and bool(np.all((finite == 0) | (finite == 1)))
    if lower.startswith(CALL_COUNTER_PREFIXES) or (
        binary and bool(np.all(finite == 1)) and not lower.endswith("_rate")
    ):
        return MetricKind("", percentiles=False, is_counter=True)
    if binary and (lower.endswith(("_rate", "_ratio")) or "error" in lower or "success" in lower):
        return MetricKind("%", percentiles=False, is_share=True)
    typical = float(np.percentile(np.abs(finite), 95)) if len(finite) else 0.0
    if "bytes" in lower:
        suffix = "/s" if lower.endswith("_per_s") else ""
        for limit, unit in _BYTE_UNITS:
            if typical >= limit:
                return MetricKind(unit + suffix, scale=limit, summable=False)
        return MetricKind("B" + suffix, summable=False)
    if lower.startswith(_GAUGE_PREFIXES):
        return MetricKind("%" if lower.endswith(("_percent", "_pct")) else "", summable=False)
    if is_duration(lower):
        return MetricKind("ms", scale=0.001) if typical < 1 else MetricKind("s")  # ms also for sub-ms: µs is rare
    if "token" in lower:
        return MetricKind("tokens")
    if "cost" in lower or lower.endswith("_usd"):
        return MetricKind("$")
    if lower.endswith(("_percent", "_pct")):
        return MetricKind("%", summable=False)
    if binary:
        return MetricKind("", percentiles=False)
    # A score's sum means nothing; a count's (conversation_length) is the total.
    return MetricKind("", summable="score" not in lower)


def time_scale(seconds: float) -> tuple[float, str]:
    """(multiplier, unit) for an axis of durations up to ``seconds``: µs, ms or s."""
    if seconds < 0.001:
        return 1e6, "µs"
    if seconds < 1:
        return 1000.0, "ms"
    return 1.0, "s"


def is_duration(name: str) -> bool:
    """Metrics in seconds by afterimage's naming: ``*_time``, ``*_seconds``, ``*_duration(_s)``, ``latency``."""
    lower = name.lower()
    return lower.endswith(("_time", "_seconds", "_duration", "_duration_s", "duration_s", "latency", "latency_s"))


def axis_unit(name: str) -> str:
    """The unit of a metric for an axis label, from its name alone (values in the metric's own unit)."""
    lower = name.lower()
    if is_duration(lower):
        return "s"
    if "token" in lower:
        return "tokens"
    if lower.endswith("_rate"):
        return "0-1"
    if lower.endswith(("_percent", "_pct")):
        return "%"
    if "bytes" in lower:
        return "bytes/s" if lower.endswith("_per_s") else "bytes"
    if "cost" in lower or lower.endswith("_usd"):
        return "USD"
    return ""
