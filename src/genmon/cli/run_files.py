"""Reading finished runs back from their files alone: metrics, logs and spans of one or more run directories.

A run directory holds ``metrics.jsonl``, ``genmon.log`` and ``spans.jsonl``,
plus one ``metrics-<shard>.jsonl`` (and log and spans) per process when a
job was spread over several processes; all of them are merged. Runs written
by afterimage (``metrics.jsonl`` with naive local timestamps,
``afterimage.log`` with ``asctime - json`` lines) are read too.

Reading is robust: a truncated last line (a crash mid-write) is skipped with
a warning, a malformed line is reported with its file and line number, and
nothing else is lost.

Example:
    >>> run = load_runs(["runs/today"])  # doctest: +SKIP
    >>> run.store.window_stats("generation_time", 0.0)["p95"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from genmon.cli.run_identity import check_one_run, read_run_file, run_sources
from genmon.monitor.settings import RUN_FILE
from genmon.monitor.store.metric_store import MetricStore

METRIC_FILES = ("metrics.jsonl", "metrics-*.jsonl")
LOG_FILES = ("genmon.log", "genmon-*.log", "afterimage.log")
SPAN_FILES = ("spans.jsonl", "spans-*.jsonl")
_AFTERIMAGE_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - (?P<json>\{.*\})$")
_BATCH = 50_000


class RunFileWarning(UserWarning):
    """A line of a run file could not be read (its file and line number are in the message)."""


class RunNotFoundError(FileNotFoundError):
    """A run directory is missing or holds no run file."""


@dataclass
class RunData:
    """Everything read from one or more run directories."""

    directories: list[Path]
    store: MetricStore
    logs: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    run_info: dict[str, Any] | None = None  # the run's run.json (run_name, tags, config); None for mixed runs

    def alerts(self) -> list[dict[str, Any]]:
        """The alert records found in the logs, oldest first."""
        return sorted((r for r in self.logs if "alert" in r), key=lambda r: r.get("_ts", 0.0))


def run_files(directory: Path, patterns: Iterable[str]) -> list[Path]:
    """The files of one kind in a run directory, sorted by name (shards included)."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in sorted(directory.glob(pattern)):
            if path.is_file():
                found[path] = None
    return list(found)


def load_runs(
    directories: Iterable[str | Path], max_points_per_metric: int | None = None, merge_runs: bool = False
) -> RunData:
    """Read the metrics, logs and spans of the given run directories into one view.

    The files must belong to one run (``genmon.cli.run_identity``): files of
    different runs raise ``MixedRunsError`` naming them, unless ``merge_runs``.
    """
    dirs = [Path(d) for d in directories]
    if not dirs:
        raise RunNotFoundError("no run directory given")
    run = RunData(dirs, MetricStore(max_points_per_metric=max_points_per_metric))
    sources = []
    found = []
    for directory in dirs:
        if not directory.is_dir():
            raise RunNotFoundError(f"run directory not found: {directory}")
        paths = [run_files(directory, kind) for kind in (METRIC_FILES, LOG_FILES, SPAN_FILES)]
        if not any(paths):
            raise RunNotFoundError(f"no run files (metrics.jsonl, genmon.log, spans.jsonl) in {directory}")
        found.append(paths)
        sources += run_sources(directory, run.problems)
    # Checked before reading a line: mixing two runs fails fast, naming the files of each.
    run.run_info, warning = check_one_run(sources, merge_runs)
    if warning is not None:
        run.problems.append(warning)
    for metric_paths, log_paths, span_paths in found:
        run.files += [*metric_paths, *log_paths, *span_paths]
        for path in metric_paths:
            _load_metrics(path, run)
        for path in log_paths:
            run.logs.extend(_read_logs(path, run.problems))
        for path in span_paths:
            run.spans.extend(_read_spans(path, run.problems))
    run.logs.sort(key=lambda r: r.get("_ts", 0.0))
    run.spans.sort(key=lambda s: s.get("start", 0.0))
    for problem in run.problems:
        warnings.warn(problem, RunFileWarning, stacklevel=2)
    return run


def read_run_info(directory: Path, problems: list[str]) -> dict[str, Any] | None:
    """The run's name, tags and config from ``run.json``, or None when the run has none (or it is unreadable)."""
    return read_run_file(directory / RUN_FILE, problems)


def to_epoch(stamp: Any) -> float:
    """Epoch seconds from an ISO-8601 string (naive means local time, as afterimage wrote it) or a number."""
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return float(stamp)
    return datetime.fromisoformat(stamp).timestamp()


def _load_metrics(path: Path, run: RunData) -> None:
    batch: list[tuple[str, float, float, dict[str, Any] | None]] = []
    for line_number, record in _json_lines(path, run.problems):
        try:
            name = record.pop("metric")
            value = float(record.pop("value"))
            ts = to_epoch(record.pop("timestamp"))
            if not isinstance(name, str) or not name or not math.isfinite(value):
                raise ValueError("bad metric name or value")
        except (KeyError, TypeError, ValueError) as error:
            run.problems.append(f"{path}:{line_number}: not a metric line ({error}); skipped")
            continue
        batch.append((name, value, ts, record or None))
        if len(batch) >= _BATCH:
            run.store.append_batch(batch)
            batch = []
    if batch:
        run.store.append_batch(batch)


_SPAN_NUMBERS = ("start", "duration_s")


def _read_spans(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    spans = []
    for line_number, record in _json_lines(path, problems):
        try:
            for key in _SPAN_NUMBERS:
                record[key] = float(record[key])
                if not math.isfinite(record[key]):
                    raise ValueError(f"{key} is not finite")
        except (KeyError, TypeError, ValueError) as error:
            problems.append(f"{path}:{line_number}: not a span line ({error}); skipped")
            continue
        spans.append(record)
    return spans


def _read_logs(path: Path, problems: list[str]) -> list[dict[str, Any]]:
    records = []
    if path.name == "afterimage.log":
        lines = _afterimage_log_lines(path, problems)
    else:
        lines = _json_lines(path, problems)
    for line_number, record in lines:
        try:
            record["_ts"] = to_epoch(record["timestamp"]) if "timestamp" in record else 0.0
            record["timestamp"] = str(record.get("timestamp", ""))
        except (TypeError, ValueError):
            problems.append(f"{path}:{line_number}: bad timestamp {record.get('timestamp')!r}; kept without time")
            record["_ts"] = 0.0
        records.append(record)
    return records


def _afterimage_log_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_number, text, last in _lines(path):
        match = _AFTERIMAGE_LOG_LINE.match(text)
        if match is None:
            if text.strip():
                problems.append(f"{path}:{line_number}: not an afterimage log line; skipped")
            continue
        try:
            record = orjson.loads(match.group("json"))
        except orjson.JSONDecodeError:
            problems.append(f"{path}:{line_number}: malformed JSON; skipped")
            continue
        stamp = datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S,%f")
        record.setdefault("timestamp", stamp.isoformat())
        yield line_number, record


def _lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, is the unterminated last line) for each line of a file."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    unterminated = lines.pop() if lines else b""
    for number, raw in enumerate(lines, start=1):
        yield number, raw.decode("utf-8", errors="replace"), False
    if unterminated.strip():
        yield len(lines) + 1, unterminated.decode("utf-8", errors="replace"), True


def _json_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_number, text, unterminated in _lines(path):
        if not text.strip():
            continue
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            if unterminated:
                problems.append(f"{path}:{line_number}: truncated last line skipped (the writer stopped mid-line)")
            else:
                problems.append(f"{path}:{line_number}: malformed JSON line skipped")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{line_number}: not a JSON object; skipped")
            continue
        yield line_number, record
