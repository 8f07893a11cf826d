"""The monitor's validated settings and the small conversions its keywords go through."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from genmon.monitor.resources import DEFAULT_INTERVAL_S


def shard_id() -> str:
    """``<host>-<pid>``: unique per process across the machines sharing a run directory."""
    return f"{socket.gethostname()}-{os.getpid()}"


def to_seconds(window: Any, argument: str = "window") -> float:
    """Seconds from a timedelta or a number of seconds; negative values are refused."""
    seconds = window.total_seconds() if isinstance(window, timedelta) else window
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"{argument} must be a timedelta or seconds, got {type(window).__name__} {window!r:.80}")
    if not seconds >= 0:
        raise ValueError(f"{argument} must be >= 0 seconds, got {window!r}")
    return float(seconds)


def deadline_in(timeout: float | None) -> float:
    """A monotonic deadline ``timeout`` seconds away (None or inf: as good as never)."""
    seconds = 1e9 if timeout is None else min(to_seconds(timeout, "timeout"), 1e9)
    return time.monotonic() + seconds


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
    shard: str | None = None
