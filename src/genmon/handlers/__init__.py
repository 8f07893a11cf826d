"""Handler contracts and sinks.

Names are imported on first use (PEP 562 ``__getattr__``), so ``import
genmon`` loads no sink it does not need, and an optional dependency
(``mlflow``, ``prometheus_client``, ``opentelemetry-proto``) is imported
only when its sink is built; a missing one raises ``genmon.MissingExtraError`` naming the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genmon.handlers.base import BatchMetricHandler, FlushableHandler, LogHandler, MetricHandler
    from genmon.handlers.http import HttpHandler
    from genmon.handlers.log_file import FileLogHandler
    from genmon.handlers.logging_bridge import LoggingHandler, StdlibLoggerSink, capture_logging
    from genmon.handlers.metrics_file import FileMetricHandler
    from genmon.handlers.mlflow_handler import MlflowHandler
    from genmon.handlers.otlp import OtlpHandler
    from genmon.handlers.prometheus import PrometheusCollector
    from genmon.handlers.prometheus_export import PrometheusPusher, PrometheusServer
    from genmon.handlers.spans_file import FileSpanHandler

_EXPORTS: dict[str, str] = {
    "BatchMetricHandler": "genmon.handlers.base",
    "FileLogHandler": "genmon.handlers.log_file",
    "FileMetricHandler": "genmon.handlers.metrics_file",
    "FileSpanHandler": "genmon.handlers.spans_file",
    "FlushableHandler": "genmon.handlers.base",
    "HttpHandler": "genmon.handlers.http",
    "LogHandler": "genmon.handlers.base",
    "LoggingHandler": "genmon.handlers.logging_bridge",
    "MetricHandler": "genmon.handlers.base",
    "MlflowHandler": "genmon.handlers.mlflow_handler",
    "OtlpHandler": "genmon.handlers.otlp",
    "PrometheusCollector": "genmon.handlers.prometheus",
    "PrometheusPusher": "genmon.handlers.prometheus_export",
    "PrometheusServer": "genmon.handlers.prometheus_export",
    "StdlibLoggerSink": "genmon.handlers.logging_bridge",
    "capture_logging": "genmon.handlers.logging_bridge",
}

__all__ = [
    "BatchMetricHandler",
    "FileLogHandler",
    "FileMetricHandler",
    "FileSpanHandler",
    "FlushableHandler",
    "HttpHandler",
    "LogHandler",
    "LoggingHandler",
    "MetricHandler",
    "MlflowHandler",
    "OtlpHandler",
    "PrometheusCollector",
    "PrometheusPusher",
    "PrometheusServer",
    "StdlibLoggerSink",
    "capture_logging",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genmon.handlers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
