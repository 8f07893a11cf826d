"""Serving and pushing a ``PrometheusCollector``: an HTTP endpoint, a Pushgateway pusher, the monitor glue.

``monitor.serve_prometheus(port)`` and ``monitor.push_prometheus(gateway)``
call ``serve_monitor`` / ``push_monitor``: they reuse the monitor's
collector (one passed in ``metric_handlers``, or one added on a new lane
the first time) and register the server or pusher so ``monitor.close()``
stops it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from genmon.handlers._extras import import_extra
from genmon.handlers.prometheus import PrometheusCollector

if TYPE_CHECKING:
    from genmon.monitor.generation_monitor import GenerationMonitor


class PrometheusServer:
    """An HTTP endpoint serving a registry at ``/metrics`` on its own daemon thread.

    Args:
        registry: the prometheus_client registry served.
        port: the port (0 picks a free one; see ``port`` afterwards).
        addr: the address bound; the default serves this machine only, use
            ``"0.0.0.0"`` for a Prometheus running elsewhere.
    """

    def __init__(self, registry: Any, port: int = 0, addr: str = "127.0.0.1") -> None:
        exposition = import_extra("prometheus_client.exposition", "prometheus-client", "prometheus")
        self.registry = registry
        self._httpd, self._thread = exposition.start_http_server(port, addr=addr, registry=registry)
        self._thread.name = f"genmon-prometheus-{self._httpd.server_port}"
        self.addr = addr
        self.port: int = self._httpd.server_port
        self.url = f"http://{'127.0.0.1' if addr in ('0.0.0.0', '') else addr}:{self.port}/metrics"

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop serving and release the port; idempotent."""
        if self._thread.is_alive():
            self._httpd.shutdown()  # returns once serve_forever's loop (0.5 s poll) has ended
        self._httpd.server_close()
        self._thread.join(max(timeout_s, 0.0))
        return not self._thread.is_alive()


class PrometheusPusher:
    """Pushes a registry to a Pushgateway every ``interval_s`` and once more at ``stop()``.

    Each push replaces the group's metrics (HTTP PUT), so a failed push is
    simply superseded by the next; failures are counted, never raised.

    Args:
        registry: what is pushed.
        gateway: the Pushgateway URL, e.g. ``http://pushgateway:9091``.
        job: the ``job`` grouping label; ``grouping_key`` adds more (e.g. ``{"instance": host}``).
        interval_s: seconds between pushes (None: only ``push()`` and the final push).
        timeout_s: socket timeout of each push.
        headers: extra request headers (e.g. an Authorization token; never logged).
    """

    def __init__(
        self,
        registry: Any,
        gateway: str,
        job: str = "genmon",
        interval_s: float | None = 15.0,
        grouping_key: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._exposition = import_extra("prometheus_client.exposition", "prometheus-client", "prometheus")
        if interval_s is not None and not interval_s > 0:
            raise ValueError(f"interval must be > 0 seconds or None, got {interval_s!r}")
        self.registry = registry
        self.gateway = gateway
        self.job = job
        self.grouping_key = dict(grouping_key or {})
        self.interval_s = interval_s
        self.timeout_s = float(timeout_s)
        self._headers = list((headers or {}).items())
        self.pushes = 0
        self.failures = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._push_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        if interval_s is not None:
            self._thread = threading.Thread(target=self._run, name="genmon-prometheus-push", daemon=True)
            self._thread.start()

    def __repr__(self) -> str:
        return (
            f"PrometheusPusher(gateway={self.gateway!r}, job={self.job!r}, headers={[k for k, _ in self._headers]!r})"
        )

    def _handler(
        self, url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ) -> Any:
        return self._exposition.default_handler(url, method, timeout, [*headers, *self._headers], data)

    def push(self, timeout_s: float | None = None) -> bool:
        """Push now; True on success (a failure is counted in ``failures`` and ``last_error``)."""
        timeout = self.timeout_s if timeout_s is None else max(min(timeout_s, self.timeout_s), 0.001)
        # A periodic push hung on a dead gateway must not hold a bounded push past its time.
        if not self._push_lock.acquire(timeout=timeout):
            self.failures += 1
            self.last_error = "TimeoutError: a previous push is still waiting for the gateway"
            return False
        try:
            try:
                self._exposition.push_to_gateway(
                    self.gateway,
                    self.job,
                    self.registry,
                    grouping_key=self.grouping_key,
                    timeout=timeout,
                    handler=self._handler,
                )
            except Exception as error:  # noqa: BLE001 - a push failure is counted; the next push supersedes it
                self.failures += 1
                self.last_error = f"{type(error).__name__}: {error}"
                return False
            self.pushes += 1
            return True
        finally:
            self._push_lock.release()

    def _run(self) -> None:
        assert self.interval_s is not None
        while not self._stop.wait(self.interval_s):
            self.push()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop the periodic pushes and push the final figures, within ``timeout_s``; idempotent."""
        if self._stop.is_set():
            return True
        self._stop.set()
        deadline = time.monotonic() + max(timeout_s, 0.0)
        if self._thread is not None:
            self._thread.join(max(timeout_s, 0.0))
        left = deadline - time.monotonic()
        if left <= 0:  # no time left for a final push: the bound holds
            return False
        return self.push(left) and (self._thread is None or not self._thread.is_alive())

    def stats(self) -> dict[str, Any]:
        return {"pushes": self.pushes, "failures": self.failures, "last_error": self.last_error}


def monitor_collector(monitor: GenerationMonitor, **options: Any) -> PrometheusCollector:
    """The monitor's collector: one among its metric handlers or lanes, else a new one on its own lane.

    ``options`` (``PrometheusCollector`` arguments) apply only when a new one is made.
    """
    for handler in monitor.metric_handlers:
        if isinstance(handler, PrometheusCollector):
            return handler
    for lane in monitor._metrics.lanes:
        if isinstance(lane.handler, PrometheusCollector):
            return lane.handler
    collector = PrometheusCollector(**options)
    monitor._metrics.add_handler(collector)
    return collector


def _check_open(monitor: GenerationMonitor) -> None:
    if monitor._closed:
        from genmon.errors import MonitorClosedError

        raise MonitorClosedError("the monitor is closed: it can no longer serve or push metrics")


def _registry(collector: PrometheusCollector, registry: Any) -> Any:
    if registry is None:
        # A fresh registry, not prometheus_client's global one: no process-wide state to clash with.
        registry = import_extra("prometheus_client", "prometheus-client", "prometheus").CollectorRegistry()
    registry.register(collector)
    return registry


def serve_monitor(
    monitor: GenerationMonitor, port: int = 0, addr: str = "127.0.0.1", registry: Any = None, **options: Any
) -> PrometheusServer:
    """Serve the monitor's metrics at ``http://addr:port/metrics`` until ``monitor.close()``."""
    _check_open(monitor)
    # Checked before a collector lane is added, so a bad call leaves nothing behind.
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r:.80}")
    if not isinstance(addr, str) or not addr:
        raise TypeError(f"addr must be a host name or address string, got {addr!r:.80}")
    collector = monitor_collector(monitor, **options)
    server = PrometheusServer(_registry(collector, registry), port, addr)
    monitor._services.append(server)
    return server


def push_monitor(
    monitor: GenerationMonitor,
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
    _check_open(monitor)
    if interval_s is not None and (isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0):
        raise ValueError(f"interval must be seconds > 0 or None (push only at close), got {interval_s!r:.80}")
    collector = monitor_collector(monitor, **options)
    pusher = PrometheusPusher(
        _registry(collector, registry), gateway, job, interval_s, grouping_key, timeout_s, headers
    )
    monitor._services.append(pusher)
    return pusher
