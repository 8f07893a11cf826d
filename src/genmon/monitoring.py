"""afterimage's module path: ``from afterimage.monitoring import X`` becomes ``from genmon.monitoring import X``."""

from genmon import (
    Alert,
    FileLogHandler,
    FileMetricHandler,
    GenerationMonitor,
    LogHandler,
    LogLevel,
    MetricHandler,
    ModelTokenUsage,
    MonitorClosedError,
    TokenUsageReport,
)

__all__ = [
    "Alert",
    "FileLogHandler",
    "FileMetricHandler",
    "GenerationMonitor",
    "LogHandler",
    "LogLevel",
    "MetricHandler",
    "ModelTokenUsage",
    "MonitorClosedError",
    "TokenUsageReport",
]
