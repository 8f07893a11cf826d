"""genmon: a metrics monitor for generation workloads, a drop-in for afterimage's GenerationMonitor.

Where to start:

- ``GenerationMonitor``: one monitor, the façade
  (``genmon.monitor.generation_monitor``); ``genmon.monitoring`` is
  afterimage's import path for it and its types.
- ``genmon.enable``, ``genmon.track``, ``genmon.attach`` and ``genmon.emit``:
  the same on the process-wide default monitor (``genmon.monitor.default``).
- ``genmon.testing``: a manual clock and capturing handlers for your own
  tests; ``genmon.simulated``: an LLM client and generator to load it with.
- the ``genmon`` command: ``genmon.cli``.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import
genmon`` costs little and loads neither numpy nor any sink; ``from genmon
import GenerationMonitor`` loads the monitor, and the first monitor built
loads its store. README's "How genmon is built" shows how the parts fit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genmon._version import __version__

if TYPE_CHECKING:
    from genmon.errors import AlreadyEnabledError, MissingExtraError, MonitorClosedError
    from genmon.handlers.base import LogHandler, MetricHandler
    from genmon.handlers.log_file import FileLogHandler
    from genmon.handlers.metrics_file import FileMetricHandler
    from genmon.monitor.alerts.rules import NoDataRule, Rule, ThresholdRule
    from genmon.monitor.default import attach, current_monitor, disable, emit, enable, is_enabled, track
    from genmon.monitor.generation_monitor import GenerationMonitor
    from genmon.monitor.resources.profiler import ProfileRun
    from genmon.monitor.tracking.loop import LoopCallback
    from genmon.records.redaction import redact_secrets
    from genmon.records.resources import ResourceSnapshot
    from genmon.records.types import Alert, LogLevel, ModelTokenUsage, RunInfo, TokenUsageReport, WindowStats

_EXPORTS: dict[str, str] = {
    "Alert": "genmon.records.types",
    "AlreadyEnabledError": "genmon.errors",
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
    "attach": "genmon.monitor.default",
    "current_monitor": "genmon.monitor.default",
    "disable": "genmon.monitor.default",
    "emit": "genmon.monitor.default",
    "enable": "genmon.monitor.default",
    "is_enabled": "genmon.monitor.default",
    "redact_secrets": "genmon.records.redaction",
    "track": "genmon.monitor.default",
}

__all__ = [
    "Alert",
    "AlreadyEnabledError",
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
    "attach",
    "current_monitor",
    "disable",
    "emit",
    "enable",
    "is_enabled",
    "redact_secrets",
    "track",
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
