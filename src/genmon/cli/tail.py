"""``genmon tail``: a live terminal view of a running job, following its files as they grow."""

from __future__ import annotations

import math
import time
from collections import deque
from pathlib import Path
from typing import Any

import orjson

from genmon.cli.run_files import LOG_FILES, METRIC_FILES, run_files, to_epoch
from genmon.monitor.store.metric_store import MetricStore

KEY_METRICS = (
    "generation_time",
    "success_rate",
    "error_rate",
    "prompt_token_count",
    "completion_token_count",
    "total_token_count",
)


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

    def _parse_point(self, line: bytes) -> tuple[str, float, float, None] | None:
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
        return (name, value, ts, None)


def render(follower: RunFollower, window_s: float, now: float) -> Any:
    """The live view: a table of key metrics over the window, totals, and the recent alerts."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    start = now - window_s
    table = Table(title=f"{follower.run_dir}  (last {window_s:g} s)", title_justify="left")
    for column in ("metric", "per s", "mean", "p50", "p95", "p99", "sum"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    names = [n for n in KEY_METRICS if n in follower.counts] + sorted(
        n for n in follower.counts if n not in KEY_METRICS
    )
    for name in names:
        stats = follower.store.window_stats(name, start)
        # Over the part of the window the job has run, so a young job's rate is not diluted.
        covered = min(window_s, now - follower.first_seen.get(name, now))
        rate = stats["count"] / covered if covered > 0 else 0.0
        cells = [f"{rate:.2f}"] + [_fmt(stats[k]) if stats else "-" for k in ("mean", "p50", "p95", "p99")]
        table.add_row(name, *cells, _fmt(follower.totals.get(name, 0.0)))
    lines: list[Any] = [table]
    errors = follower.store.window_stats("error_rate", start)
    if errors:
        lines.append(
            Text(
                f"error rate in window: {errors['mean']:.1%} of {errors['count']} calls",
                style="bold red" if errors["mean"] > 0.2 else "",
            )
        )
    if follower.alerts:
        lines.append(Text("recent alerts:", style="bold"))
        for alert in follower.alerts:
            stamp = str(alert.get("timestamp", ""))[:19]
            lines.append(
                Text(f"  {stamp}  {alert.get('level', '')}  {alert.get('alert', '')}: {alert.get('message', '')}")
            )
    if follower.bad_lines:
        lines.append(Text(f"{follower.bad_lines} unreadable lines skipped", style="yellow"))
    return Group(*lines)


def _fmt(value: float) -> str:
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3g}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"


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
        console.print(render(follower, window_s, _now(follower)))
        return 0
    deadline = None if duration_s is None else time.monotonic() + duration_s
    with Live(render(follower, window_s, _now(follower)), console=console, refresh_per_second=4) as live:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(interval_s)  # a display cadence, not synchronisation
            follower.poll()
            live.update(render(follower, window_s, _now(follower)))
    return 0


def _now(follower: RunFollower) -> float:
    # A finished or paused job keeps its last window on screen: the view's
    # "now" never runs ahead of wall time, nor behind the newest point.
    newest = follower.store.last_timestamp() or time.time()
    return max(newest, time.time()) if time.time() - newest < 60 else newest
