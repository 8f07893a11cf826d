"""Time axes that read on any run: elapsed time for short runs, local wall-clock time for long ones.

A two-second run drawn on a date axis shows ``26.5 ... 29.0`` (seconds of the
minute) with the date in a corner, and a one-point run an axis from one year
to the next. So the unit follows the time the points span:

| span | x axis |
| --- | --- |
| under 1 s | milliseconds since the first point |
| under 2 min (one point too) | seconds since the first point |
| under 30 min | minutes since the first point |
| under 2 days | local wall-clock ``HH:MM`` |
| longer | dates |

The label names the unit and the start in local time with its UTC offset:
``Seconds since 11:00:00 on 2026-01-01 (UTC+01:00)``.

Points recorded with a step (a training or evaluation loop) are drawn
against their steps instead (``StepAxis``, ``series_by_step``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genmon.exporters.columns import local_wall_micros, offset_text
from genmon.monitor.store.series_data import SeriesData
from genmon.records.steps import point_step

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_ELAPSED = ((1.0, 0.001, "Milliseconds"), (120.0, 1.0, "Seconds"), (1800.0, 60.0, "Minutes"))
CLOCK_LIMIT_S = 2 * 86400.0


@dataclass(frozen=True)
class TimeAxis:
    """How one chart draws time: the origin (epoch s), the unit (seconds per x unit, 0 for clock time), the label."""

    origin: float
    unit_s: float
    label: str
    span_s: float

    @property
    def elapsed(self) -> bool:
        return self.unit_s > 0

    def x(self, ts: np.ndarray) -> np.ndarray:
        """x values for epoch seconds: elapsed units, or naive local ``datetime64[us]``."""
        if self.elapsed:
            return (np.asarray(ts, dtype=np.float64) - self.origin) / self.unit_s
        wall, _ = local_wall_micros(np.asarray(ts, dtype=np.float64))
        return wall.view("datetime64[us]")

    def apply(self, ax: Axes) -> None:
        """Locator, formatter, limits and label on ``ax``'s x axis."""
        from matplotlib.ticker import MaxNLocator, ScalarFormatter

        if self.elapsed:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
            formatter = ScalarFormatter(useOffset=False)
            formatter.set_scientific(False)
            ax.xaxis.set_major_formatter(formatter)
            if self.span_s == 0:  # one instant: a symmetric axis around it, never a zero-width one
                ax.set_xlim(-1.0, 1.0)
                ax.set_xticks([0.0])  # no negative "seconds since" the only point
        else:
            import matplotlib.dates as mdates

            locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
            ax.xaxis.set_major_locator(locator)
            if self.span_s < CLOCK_LIMIT_S:
                ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
            else:
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
        ax.set_xlabel(self.label)


def time_axis(timestamps: Iterable[np.ndarray]) -> TimeAxis:
    """The axis for every point of ``timestamps`` (several series share one axis)."""
    arrays = [np.asarray(t, dtype=np.float64) for t in timestamps if len(t)]
    if not arrays:
        return TimeAxis(0.0, 1.0, "Seconds", 0.0)
    first = min(float(a[0]) for a in arrays)
    last = max(float(a[-1]) for a in arrays)
    span = last - first
    wall, offsets = local_wall_micros(np.array([first, last]))
    zones = "/".join(sorted({offset_text(int(o)) for o in offsets.tolist()}))
    start = wall.view("datetime64[us]")
    day, clock = str(start[0])[:10], str(start[0])[11:19]
    for limit, unit_s, name in _ELAPSED:
        if span < limit and (span > 0 or unit_s == 1.0):  # one instant: seconds around it
            if unit_s < 1:
                clock = str(start[0])[11:23]  # milliseconds matter here
            return TimeAxis(first, unit_s, f"{name} since {clock} on {day} (UTC{zones})", span)
    last_day = str(start[1])[:10]
    if span < CLOCK_LIMIT_S:
        days = day if last_day == day else f"{day} to {last_day}"
        return TimeAxis(first, 0.0, f"Local time on {days} (UTC{zones})", span)
    return TimeAxis(first, 0.0, f"Local date and time (UTC{zones})", span)


@dataclass(frozen=True)
class StepAxis:
    """An x axis of loop steps: whole-number ticks, labelled ``Step``."""

    first: float
    last: float
    label: str = "Step"

    def x(self, steps: np.ndarray) -> np.ndarray:
        return np.asarray(steps, dtype=np.float64)

    def apply(self, ax: Axes) -> None:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        if self.first == self.last:  # one step: an axis around it, never a zero-width one
            ax.set_xlim(self.first - 1.0, self.last + 1.0)
        ax.set_xlabel(self.label)


def series_by_step(series: SeriesData) -> tuple[SeriesData, int] | None:
    """The points that have a step, ordered by step (their steps in place of timestamps), and how many have none.

    None when no point of ``series`` has a step.
    """
    per_code = np.array([-1 if (step := point_step(meta)) is None else step for meta in series.metadata_table])
    steps = per_code[series.codes] if len(per_code) else np.full(len(series), -1)
    has_step = steps >= 0
    if not has_step.any():
        return None
    order = np.argsort(steps[has_step], kind="stable")
    stepped = SeriesData(
        series.name,
        steps[has_step][order].astype(np.float64),
        series.values[has_step][order],
        series.codes[has_step][order],
        series.metadata_table,
        series.integral,
    )
    return stepped, int((~has_step).sum())
