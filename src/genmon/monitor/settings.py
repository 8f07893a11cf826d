"""The monitor's constructor keywords, validated once into ``Settings`` that a runtime is built from.

``Settings.from_keywords`` is everything ``GenerationMonitor.__init__``
does with its keywords: default sinks (metrics.jsonl, genmon.log), the
run directory, seconds from timedeltas, the shard name. A bad keyword
fails here, before any thread starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from genmon.records.resources import DEFAULT_INTERVAL_S  # the sampler's, when sample_resources=True
from genmon.records.types import RunInfo
from genmon.records.validation import check_run_info, to_seconds

RUN_FILE = "run.json"
# afterimage's threshold keywords of the built-in alert rules.
ALERT_THRESHOLD_KEYWORDS = (
    "alert_min_success_rate",
    "alert_max_generation_time_seconds",
    "alert_max_error_rate",
    "alert_max_prompt_token_mean",
    "alert_max_completion_token_mean",
    "alert_max_total_token_mean",
    "alert_max_conversation_length_mean",
)


def shard_id() -> str:
    """``<host>-<pid>``: unique per process across the machines sharing a run directory."""
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def default_log_dir(root: Path = Path(".genmon")) -> Path:
    """``.genmon/<YYYY-mm-dd-HH-MM-SS>``, suffixed ``-2``, ``-3``... when taken."""
    stem = datetime.now().strftime("%Y-%m-%d-%H-%M-%S")
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        candidate = root / (stem if n == 1 else f"{stem}-{n}")
        try:
            candidate.mkdir()  # atomic: two monitors never share a directory
            return candidate
        except FileExistsError:
            n += 1


def resource_interval(sample_resources: Any) -> float | None:
    """The sampler interval the ``sample_resources`` keyword asks for, or None for no sampler."""
    if sample_resources is False or sample_resources is None:
        return None
    if sample_resources is True:
        return DEFAULT_INTERVAL_S
    if isinstance(sample_resources, (int, float)) and sample_resources > 0:
        return float(sample_resources)
    raise ValueError(f"sample_resources must be True, False or an interval in seconds > 0, got {sample_resources!r}")


@dataclass
class Settings:
    """The validated constructor keywords a runtime is built from."""

    log_dir: Path
    metrics_interval: float
    shutdown_timeout_s: float
    metric_handlers: list[Any]
    log_handlers: list[Any]
    alert_handlers: list[Any]
    default_metric_files: bool
    alert_thresholds: dict[str, float | None]
    alert_window_s: float
    alert_cooldown_s: float
    alert_handler_timeout_s: float
    token_usage_callback: Callable[..., Any] | None
    token_usage_interval_s: float
    max_queue_size: int
    on_full: str
    block_timeout_s: float
    retention_s: float | None
    max_points_per_metric: int | None
    clock: Callable[[], float]
    prices: Mapping[str, Any] | None
    callback_timeout_s: float
    sampler_interval_s: float | None
    run: RunInfo = field(default_factory=RunInfo)
    send_resolved: bool = True
    log_to_logging: bool = False
    shard: str | None = None
    capture_io: bool = False
    capture: Any = None  # a genmon.monitor.tracking.capture.CapturePolicy
    handle_signals: bool = True

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any]) -> Settings:
        """Validate ``GenerationMonitor``'s keywords (its ``locals()``) and fill in the defaults.

        Everything is checked before the run directory is made, so a bad
        keyword leaves no empty directory behind.
        """
        k = keywords
        shard = k["shard"]
        if not isinstance(shard, (bool, str)) or shard == "":
            raise TypeError(f"shard must be True, False or a non-empty shard name, got {shard!r}")
        retention = k["retention"]
        seconds = {
            name: to_seconds(k[name], name)
            for name in ("shutdown_timeout", "alert_window", "alert_cooldown", "alert_handler_timeout")
            + ("block_timeout", "callback_timeout")
        }
        retention_s = None if retention is None else to_seconds(retention, "retention")
        sampler_interval_s = resource_interval(k["sample_resources"])
        run = RunInfo(*check_run_info(k["run_name"], k["tags"], k["config"]))
        if not isinstance(k["capture_io"], bool):
            raise TypeError(f"capture_io must be True or False, got {k['capture_io']!r:.80}")
        from genmon.monitor.tracking.capture import CapturePolicy

        capture = CapturePolicy(k["capture_max_chars"], k["capture_redact"])
        # The lists given are kept as they are (not copied): afterimage users append to them later.
        given_metrics, given_logs = k["metric_handlers"], k["log_handlers"]
        metric_list = None if given_metrics is None else live_list(given_metrics, "metric_handlers")
        log_list = None if given_logs is None else live_list(given_logs, "log_handlers")
        alert_handlers = live_list(k["alert_handlers"], "alert_handlers")
        check_parts_keywords(k, retention_s, alert_handlers)
        from genmon.handlers.log_file import FileLogHandler
        from genmon.handlers.metrics_file import FileMetricHandler

        log_dir = Path(k["log_dir"]) if k["log_dir"] is not None else default_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        return cls(
            log_dir=log_dir,
            metrics_interval=k["metrics_interval"],
            metric_handlers=[FileMetricHandler(log_dir)] if metric_list is None else metric_list,
            log_handlers=[FileLogHandler(log_dir)] if log_list is None else log_list,
            alert_handlers=alert_handlers,
            log_to_logging=bool(k["log_to_logging"]),
            default_metric_files=k["metric_handlers"] is None,
            alert_thresholds={name: k[name] for name in ALERT_THRESHOLD_KEYWORDS},
            token_usage_callback=k["token_usage_callback"],
            token_usage_interval_s=k["token_usage_callback_interval_seconds"],
            max_queue_size=k["max_queue_size"],
            on_full=k["on_full"],
            max_points_per_metric=k["max_points_per_metric"],
            clock=k["clock"],
            prices=k["prices"],
            shard=(shard_id() if shard is True else shard) or None,
            shutdown_timeout_s=seconds["shutdown_timeout"],
            alert_window_s=seconds["alert_window"],
            alert_cooldown_s=seconds["alert_cooldown"],
            alert_handler_timeout_s=seconds["alert_handler_timeout"],
            block_timeout_s=seconds["block_timeout"],
            callback_timeout_s=seconds["callback_timeout"],
            retention_s=retention_s,
            sampler_interval_s=sampler_interval_s,
            run=run,
            send_resolved=bool(k["send_resolved"]),
            capture_io=k["capture_io"],
            capture=capture,
            handle_signals=bool(k["handle_signals"]),
        )


def check_parts_keywords(k: Mapping[str, Any], retention_s: float | None, alert_handlers: list[Any]) -> None:
    """The keywords the runtime hands to its parts as given, checked by those parts' own rules before anything starts.

    The queue, the store, the alert rules and periods, the price table and
    the alert handler shapes each keep their check; calling them here makes
    a bad keyword fail before the run directory is made or a thread started.
    """
    from genmon.monitor.alerts.handler_shapes import takes_values
    from genmon.monitor.alerts.manager import check_intervals
    from genmon.monitor.alerts.rules import builtin_rules
    from genmon.monitor.engine.queueing import check_queue_options
    from genmon.monitor.store.metric_store import check_store_limits
    from genmon.monitor.tracking.usage import PriceTable

    if not callable(k["clock"]):
        raise TypeError(f"clock must be a callable returning epoch seconds, got {k['clock']!r:.80}")
    if k["token_usage_callback"] is not None and not callable(k["token_usage_callback"]):
        raise TypeError(f"token_usage_callback must be callable or None, got {k['token_usage_callback']!r:.80}")
    check_queue_options(k["max_queue_size"], k["on_full"])
    check_store_limits(retention_s, k["max_points_per_metric"])
    check_intervals(k["metrics_interval"], k["token_usage_callback_interval_seconds"])
    builtin_rules({name: k[name] for name in ALERT_THRESHOLD_KEYWORDS})
    PriceTable(k["prices"])
    for index, handler in enumerate(alert_handlers):
        takes_values(handler, f"alert_handlers[{index}]")


def write_run_file(log_dir: Path, run: RunInfo, started_at: str, shard: str | None = None) -> Path | None:
    """``log_dir/run.json``: the run's name, tags, config and start, written once (the first shard writes it).

    Created exclusively, so processes sharing a run directory never write it
    twice; a run with no name, tags or config writes none. A shard also
    writes its own ``run-<shard>.json`` beside its ``metrics-<shard>.jsonl``,
    so ``genmon report`` can tell shards of one run from another run's
    written into the same directory.
    """
    if run.is_empty():
        return None
    import orjson

    from genmon._version import __version__

    body = orjson.dumps(
        {**run.to_dict(), "started_at": started_at, "genmon_version": __version__},
        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY,
    )
    path = log_dir / RUN_FILE
    if shard is not None:
        (log_dir / shard_run_file(shard)).write_bytes(body)  # one process per shard name: no other writer
    try:
        with open(path, "xb") as file:  # exclusive: one writer per run directory
            file.write(body)
    except FileExistsError:
        return path
    return path


def shard_run_file(shard: str) -> str:
    """``run-<shard>.json``: one shard's name, tags and config."""
    stem, suffix = RUN_FILE.rsplit(".", 1)
    return f"{stem}-{shard}.{suffix}"


def live_list(handlers: Any, argument: str) -> list[Any]:
    """A handler list assigned to the monitor: kept as the very list given (so later appends count), None as empty."""
    if handlers is None:
        return []
    if isinstance(handlers, list):
        return handlers
    if isinstance(handlers, (str, bytes)) or not hasattr(handlers, "__iter__"):
        raise TypeError(f"{argument} must be a list of handlers, got {type(handlers).__name__}")
    return list(handlers)


class HandlerListAttribute:
    """``monitor.metric_handlers`` (and log, alert): the settings' live list, replaced on assignment.

    The workers read the list once per batch, so assigning a new list, or
    mutating it, takes effect at the next batch, as in afterimage.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, monitor: Any, owner: type | None = None) -> Any:
        return self if monitor is None else getattr(monitor._settings, self.name)

    def __set__(self, monitor: Any, handlers: Any) -> None:
        setattr(monitor._settings, self.name, live_list(handlers, self.name))
