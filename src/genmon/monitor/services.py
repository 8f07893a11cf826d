"""Services a monitor runs beside its pipelines until ``close()``: a Prometheus endpoint and a Pushgateway pusher.

Both reuse the monitor's ``PrometheusCollector`` (one passed in
``metric_handlers``, or one added on a lane of its own the first time), so
a process has one set of Prometheus figures whatever it serves or pushes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from genmon.errors import MonitorClosedError
from genmon.handlers._extras import import_extra

if TYPE_CHECKING:
    from genmon.handlers.prometheus import PrometheusCollector
    from genmon.handlers.prometheus_export import PrometheusPusher, PrometheusServer
    from genmon.monitor.runtime import Runtime


def monitor_collector(runtime: Runtime, **options: Any) -> PrometheusCollector:
    """The monitor's collector: one among its metric handlers or lanes, else a new one on its own lane.

    ``options`` (``PrometheusCollector`` arguments) apply only when a new one is made.
    """
    from genmon.handlers.prometheus import PrometheusCollector  # its module is loaded only by those who serve

    for handler in runtime.metric_handlers():
        if isinstance(handler, PrometheusCollector):
            return handler
    collector = PrometheusCollector(**options)
    runtime.add_metric_handler(collector)
    return collector


def _check_open(runtime: Runtime) -> None:
    if runtime.closed:
        raise MonitorClosedError("the monitor is closed: it can no longer serve or push metrics")


def _registry(collector: PrometheusCollector, registry: Any) -> Any:
    if registry is None:
        # A fresh registry, not prometheus_client's global one: no process-wide state to clash with.
        registry = import_extra("prometheus_client", "prometheus-client", "prometheus").CollectorRegistry()
    registry.register(collector)
    return registry


def serve_prometheus(
    runtime: Runtime, port: int = 0, addr: str = "127.0.0.1", registry: Any = None, **options: Any
) -> PrometheusServer:
    """Serve the monitor's metrics at ``http://addr:port/metrics`` until ``monitor.close()``."""
    _check_open(runtime)
    # Checked before a collector lane is added, so a bad call leaves nothing behind.
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r:.80}")
    if not isinstance(addr, str) or not addr:
        raise TypeError(f"addr must be a host name or address string, got {addr!r:.80}")
    from genmon.handlers.prometheus_export import PrometheusServer

    collector = monitor_collector(runtime, **options)
    server = PrometheusServer(_registry(collector, registry), port, addr)
    runtime.services.append(server)
    return server


def push_prometheus(
    runtime: Runtime,
    gateway: str,
    job: str = "genmon",
    interval_s: float | None = 15.0,
    registry: Any = None,
    grouping_key: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> PrometheusPusher:
    """Push the monitor's metrics to a Pushgateway periodically and at ``monitor.close()``."""
    _check_open(runtime)
    if interval_s is not None and (
        isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0
    ):
        raise ValueError(f"interval must be seconds > 0 or None (push only at close), got {interval_s!r:.80}")
    from genmon.handlers.prometheus_export import PrometheusPusher

    collector = monitor_collector(runtime, **options)
    pusher = PrometheusPusher(
        _registry(collector, registry), gateway, job, interval_s, grouping_key, timeout_s, headers
    )
    runtime.services.append(pusher)
    return pusher
