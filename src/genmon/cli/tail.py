"""``genmon tail``: a live terminal view of a running job, following its files as they grow.

The view is ordered for a 24-row terminal: the run, its tags and its config
(a line each, what does not fit counted), whether it is still writing, the
recent alerts, the model calls of the window (rate, error rate, latency
percentiles; wrappers on a line apart), then one row per metric. Rates are over the time the job was writing in the window, so a
run that ended a minute ago still shows the rate it ran at. Metric names
are never cut: columns are left out instead when the terminal is narrow.
"""

from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from genmon.cli.run_files import LOG_FILES, METRIC_FILES, read_run_info, run_files, to_epoch
from genmon.monitor.store.metric_store import MetricStore
from genmon.plots.units import format_number, format_percent, format_seconds, metric_kind, plural


class FileFollower:
    """Reads the complete lines appended to a file since the last read (a partial last line waits)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_lines(self) -> list[bytes]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = chunks.pop()
        return [c for c in chunks if c.strip()]


class RunFollower:
    """Follows every metrics and log file of a run directory (shards appear as they start)."""

    def __init__(self, run_dir: Path, max_points_per_metric: int = 200_000) -> None:
        self.run_dir = run_dir
        self.store = MetricStore(max_points_per_metric=max_points_per_metric)
        self.totals: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}
        self.alerts: deque[dict[str, Any]] = deque(maxlen=8)
        self.bad_lines = 0
        self.run_info = read_run_info(run_dir, [])
        self._span_types: dict[Any, dict[str, Any]] = {}  # one shared metadata dict per span type
        self._metric_files: dict[Path, FileFollower] = {}
        self._log_files: dict[Path, FileFollower] = {}

    def poll(self) -> int:
        """Read what was appended since the last poll; return the number of new points."""
        for path in run_files(self.run_dir, METRIC_FILES):
            self._metric_files.setdefault(path, FileFollower(path))
        for path in run_files(self.run_dir, LOG_FILES):
            self._log_files.setdefault(path, FileFollower(path))
        batch = []
        for follower in self._metric_files.values():
            for line in follower.read_lines():
                point = self._parse_point(line)
                if point is not None:
                    batch.append(point)
        if batch:
            self.store.append_batch(batch)
        for follower in self._log_files.values():
            for line in follower.read_lines():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError:
                    self.bad_lines += 1
                    continue
                if isinstance(record, dict) and "alert" in record:
                    self.alerts.append(record)
        return len(batch)

    def _parse_point(self, line: bytes) -> tuple[str, float, float, dict[str, Any] | None] | None:
        try:
            record = orjson.loads(line)
            name, value, ts = record["metric"], float(record["value"]), to_epoch(record["timestamp"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.bad_lines += 1
            return None
        if not math.isfinite(value):
            self.bad_lines += 1
            return None
        self.totals[name] = self.totals.get(name, 0.0) + value
        self.counts[name] = self.counts.get(name, 0) + 1
        if ts < self.first_seen.get(name, math.inf):
            self.first_seen[name] = ts
        # Only the span type is kept (model calls apart from wrappers), one shared dict per type.
        span_type = record.get("span_type")
        if span_type is None or not isinstance(span_type, str):
            return (name, value, ts, None)
        meta = self._span_types.get(span_type)
        if meta is None:
            meta = self._span_types[span_type] = {"span_type": span_type}
        return (name, value, ts, meta)


TAIL_DROP_ORDER = ("p99", "p50", "mean", "unit")
IDLE_AFTER_S = 10.0  # no new point for this long: the view says the run is idle


def render(follower: RunFollower, window_s: float, now: float, width: int = 80, wall_now: float | None = None) -> Any:
    """The live view: the run's state, recent alerts, model calls of the window, then a row per metric.

    ``now`` ends the window (the newest point for a finished run); ``wall_now``
    (default: the current time) tells how long the run has been idle.
    """
    from rich.console import Group
    from rich.text import Text

    from genmon.cli.tables import fitted_table
    from genmon.exporters.calls import headline
    from genmon.plots.html_parts import wrapper_text

    start = now - window_s
    newest = follower.store.last_timestamp()
    name = (follower.run_info or {}).get("run_name")
    lines: list[Any] = [Text(f"{follower.run_dir}{f'  {name}' if name else ''}  (last {window_s:g} s)", style="bold")]
    for label, items in _run_facts(follower.run_info or {}):
        lines.append(Text(fitted_line(label, items, width), style="dim", no_wrap=True, overflow="ellipsis"))
    if newest is not None:
        idle = (time.time() if wall_now is None else wall_now) - newest
        state = f"idle for {format_seconds(idle)}" if idle > IDLE_AFTER_S else "writing"
        lines.append(Text(f"{state}; {plural(sum(follower.counts.values()), 'point')} read", style="dim"))
    if follower.alerts:
        lines.append(Text("recent alerts:", style="bold"))
        for alert in list(follower.alerts)[-3:]:
            stamp = str(alert.get("timestamp", ""))[11:19]
            level = str(alert.get("level", ""))
            text = f"  {stamp} {level} {alert.get('alert', '')}: {alert.get('message', '')}"
            lines.append(Text(text, style="bold red" if level in ("error", "critical") else "yellow"))
    series = follower.store.snapshot(start=start)
    figures = headline(series)
    model = figures.model
    if model.calls:
        active = _active_s(follower, start, newest)
        rate = f", {format_number(model.calls / active)}/s" if active else ""
        failed = f", {format_percent(model.error_rate)} failed" if model.error_rate is not None else ""
        latency = ", ".join(
            f"{p} {format_seconds(v)}" for p, v in (("p50", model.p50), ("p95", model.p95), ("p99", model.p99))
        )
        text = f"model calls: {model.calls:,}{rate}{failed}; {latency}"
        alarming = model.error_rate is not None and model.error_rate > 0.2
        lines.append(Text(text, style="bold red" if alarming else "bold"))
    wrappers = wrapper_text(figures)
    if wrappers:
        lines.append(Text(f"wrappers apart: {wrappers}", style="dim"))
    lines.append(fitted_table(_metric_rows(follower, series, start, newest), width, TAIL_DROP_ORDER))
    if follower.bad_lines:
        lines.append(Text(f"{follower.bad_lines} unreadable lines skipped", style="yellow"))
    return Group(*lines)


def _run_facts(run_info: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The run's tags and flattened config as ``key=value`` items, sorted by key; a label without items is left out."""
    from genmon.records.types import RunInfo

    tags, config = run_info.get("tags"), run_info.get("config")
    facts = []
    if isinstance(tags, dict) and tags:
        facts.append(("tags", [f"{k}={v}" for k, v in sorted(tags.items())]))
    if isinstance(config, dict) and config:
        flat = RunInfo(config=config).flat_config()
        facts.append(("config", [f"{k}={RunInfo.value_text(flat[k])}" for k in sorted(flat)]))
    return facts


def fitted_line(label: str, items: list[str], width: int) -> str:
    """``label: a, b, c`` on one line of at most ``width`` characters.

    Items that do not fit are left out and counted (``a, b, … +3 more``), so
    a long config never wraps and pushes the metrics off a 24-row screen; a
    first item too long on its own is cut with an ellipsis.
    """
    text = f"{label}: {', '.join(items)}"
    if len(text) <= width:
        return text
    for shown in range(len(items) - 1, 0, -1):
        text = f"{label}: {', '.join(items[:shown])}, … +{len(items) - shown} more"
        if len(text) <= width:
            return text
    rest = f" +{len(items) - 1} more" if len(items) > 1 else ""
    room = max(width - len(label) - 2 - len(rest) - 1, 0)
    return f"{label}: {items[0][:room]}…{rest}"[:width]


def _active_s(follower: RunFollower, start: float, newest: float | None) -> float:
    """How long the job wrote in the window: from the window start (or its first point) to its newest point.

    Ending at the newest point, not at now, keeps a run that ended a while
    ago from looking slower the longer one watches it; starting at the run's
    first point keeps a young run's rate undiluted, and a metric recorded in
    one burst is spread over the run, not over the burst.
    """
    if newest is None or not follower.first_seen:
        return 0.0
    return max(newest - max(start, min(follower.first_seen.values())), 0.0)


def _metric_rows(follower: RunFollower, series: list[Any], start: float, newest: float | None) -> Any:
    from genmon.plots.tables import Table, metric_order

    data = {s.name: s for s in series}
    rows: list[tuple[str, ...]] = []
    for name in metric_order(list(follower.counts)):
        found = data.get(name)
        total = follower.totals.get(name, 0.0)
        if found is None or not len(found):
            rows.append((name, "", "-", "", "", "", "", format_number(total)))
            continue
        kind = metric_kind(name, found.values)
        active = _active_s(follower, start, newest)
        rate = format_number(len(found) / active) if active > 0 else "-"
        stats = ["", "", ""]
        if kind.percentiles:
            stats = [kind.cell(float(v)) for v in np.percentile(found.values, [50, 95, 99])]
        mean = "" if kind.is_counter else kind.cell(float(found.values.mean()))
        shown_total = format_number(total / kind.scale) if kind.summable and not kind.is_share else ""
        if kind.is_share:
            shown_total = f"{int(total):,}"
        rows.append((name, kind.unit, rate, mean, *stats, shown_total))
    columns = ("metric", "unit", "per s", "mean", "p50", "p95", "p99", "total")
    return Table(columns, (False, False, *[True] * 6), tuple(rows))


def follow(
    run_dir: Path, interval_s: float, window_s: float, once: bool = False, duration_s: float | None = None
) -> int:
    """Follow ``run_dir`` until interrupted (or for ``duration_s``), redrawing every ``interval_s``."""
    from rich.console import Console
    from rich.live import Live

    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    if interval_s <= 0:
        raise ValueError(f"--interval must be > 0 seconds, got {interval_s}")
    follower = RunFollower(run_dir)
    follower.poll()
    console = Console()
    if once:
        console.print(render(follower, window_s, _now(follower), console.width))
        return 0
    deadline = None if duration_s is None else time.monotonic() + duration_s
    with Live(render(follower, window_s, _now(follower), console.width), console=console, refresh_per_second=4) as live:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(interval_s)  # a display cadence, not synchronisation
            follower.poll()
            live.update(render(follower, window_s, _now(follower), console.width))
    return 0


def _now(follower: RunFollower) -> float:
    # A finished or paused job keeps its last window on screen: the view's
    # "now" never runs ahead of wall time, nor behind the newest point.
    newest = follower.store.last_timestamp() or time.time()
    return max(newest, time.time()) if time.time() - newest < 60 else newest
