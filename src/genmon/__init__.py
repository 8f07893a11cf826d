"""genmon: a metrics monitor for generation workloads, a drop-in for afterimage's GenerationMonitor.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import
genmon`` costs little and loads neither numpy nor any sink; ``from genmon
import GenerationMonitor`` loads the monitor, and the first monitor built
loads its store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genmon._version import __version__

if TYPE_CHECKING:
    from genmon.errors import MissingExtraError, MonitorClosedError
    from genmon.handlers.base import LogHandler, MetricHandler
    from genmon.handlers.log_file import FileLogHandler
    from genmon.handlers.metrics_file import FileMetricHandler
    from genmon.monitor.alerts.rules import NoDataRule, Rule, ThresholdRule
    from genmon.monitor.generation_monitor import GenerationMonitor
    from genmon.monitor.resources.profiler import ProfileRun
    from genmon.monitor.tracking.loop import LoopCallback
    from genmon.records.resources import ResourceSnapshot
    from genmon.records.types import Alert, LogLevel, ModelTokenUsage, RunInfo, TokenUsageReport, WindowStats

_EXPORTS: dict[str, str] = {
    "Alert": "genmon.records.types",
    "FileLogHandler": "genmon.handlers.log_file",
    "FileMetricHandler": "genmon.handlers.metrics_file",
    "GenerationMonitor": "genmon.monitor.generation_monitor",
    "LogHandler": "genmon.handlers.base",
    "LogLevel": "genmon.records.types",
    "LoopCallback": "genmon.monitor.tracking.loop",
    "MetricHandler": "genmon.handlers.base",
    "MissingExtraError": "genmon.errors",
    "ModelTokenUsage": "genmon.records.types",
    "MonitorClosedError": "genmon.errors",
    "NoDataRule": "genmon.monitor.alerts.rules",
    "ProfileRun": "genmon.monitor.resources.profiler",
    "ResourceSnapshot": "genmon.records.resources",
    "Rule": "genmon.monitor.alerts.rules",
    "RunInfo": "genmon.records.types",
    "ThresholdRule": "genmon.monitor.alerts.rules",
    "TokenUsageReport": "genmon.records.types",
    "WindowStats": "genmon.records.types",
}

__all__ = [
    "Alert",
    "FileLogHandler",
    "FileMetricHandler",
    "GenerationMonitor",
    "LogHandler",
    "LogLevel",
    "LoopCallback",
    "MetricHandler",
    "MissingExtraError",
    "ModelTokenUsage",
    "MonitorClosedError",
    "NoDataRule",
    "ProfileRun",
    "ResourceSnapshot",
    "Rule",
    "RunInfo",
    "ThresholdRule",
    "TokenUsageReport",
    "WindowStats",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genmon' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
