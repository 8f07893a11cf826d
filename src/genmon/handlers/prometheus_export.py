"""Serving and pushing a Prometheus registry: an HTTP endpoint and a Pushgateway pusher.

``monitor.serve_prometheus(port)`` and ``monitor.push_prometheus(gateway)``
build these around the monitor's ``PrometheusCollector`` (see
``genmon.monitor.services``); ``monitor.close()`` stops them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from genmon.handlers._extras import import_extra
from genmon.handlers._secrets import Redactor, check_header_values, redact_url


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
        check_header_values(dict(headers or {}))
        self._headers = list((headers or {}).items())
        self._redact = Redactor((headers or {}).values(), [gateway])
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
            f"PrometheusPusher(gateway={redact_url(self.gateway)!r}, job={self.job!r}, "
            f"headers={[k for k, _ in self._headers]!r})"
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
                self.last_error = self._redact(f"{type(error).__name__}: {error}")
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
