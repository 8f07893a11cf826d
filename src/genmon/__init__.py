"""genmon: a metrics monitor for generation workloads, a drop-in for afterimage's GenerationMonitor."""

from genmon._version import __version__
from genmon.errors import MissingExtraError, MonitorClosedError
from genmon.handlers.base import LogHandler, MetricHandler
from genmon.handlers.log_file import FileLogHandler
from genmon.handlers.metrics_file import FileMetricHandler
from genmon.monitor.alerts.rules import NoDataRule, Rule, ThresholdRule
from genmon.monitor.generation_monitor import GenerationMonitor
from genmon.records.types import Alert, LogLevel, ModelTokenUsage, RunInfo, TokenUsageReport, WindowStats

__all__ = [
    "Alert",
    "FileLogHandler",
    "FileMetricHandler",
    "GenerationMonitor",
    "LogHandler",
    "LogLevel",
    "MetricHandler",
    "MissingExtraError",
    "ModelTokenUsage",
    "MonitorClosedError",
    "NoDataRule",
    "Rule",
    "RunInfo",
    "ThresholdRule",
    "TokenUsageReport",
    "WindowStats",
    "__version__",
]
