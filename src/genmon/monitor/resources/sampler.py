"""The resource sampler: a psutil thread recording process and system figures as metrics.

Each sample is a ``ResourceReader`` reading recorded under the names of
``genmon.records.resources.RESOURCE_METRICS`` (MLflow's system metrics
names, under ``process/`` and ``system/``). The reader takes a first
reading when the sampler is built (it is primed), so the first sample
already covers a real interval instead of psutil's meaningless first ``0.0``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from genmon.errors import MonitorClosedError
from genmon.monitor.engine.failures import THREAD_PREFIX
from genmon.monitor.resources.reader import MIN_CPU_INTERVAL_S, ResourceReader
from genmon.records.resources import DEFAULT_INTERVAL_S


class ResourceSampler:
    """Samples process and system figures every ``interval_s`` seconds on a daemon thread.

    Args:
        record: receives each sample as a mapping of metric name to value
            (the monitor's ``record_metrics``, so alert rules see them).
        interval_s: seconds between samples.
        on_error: called with an exception when a sample fails (the thread lives on).
        min_cpu_interval_s: CPU percentages are reported only over intervals at
            least this long: the OS counts CPU time in clock ticks (10 ms on
            Linux), so over a shorter interval the figure is noise.

    Example:
        >>> sampler = monitor.sample_resources(interval=1.0)  # doctest: +SKIP
        >>> sampler.sample_once()["process/rss_bytes"] > 0  # doctest: +SKIP
        True
        >>> sampler.stop()  # doctest: +SKIP
    """

    def __init__(
        self,
        record: Callable[[Mapping[str, float]], None],
        interval_s: float = DEFAULT_INTERVAL_S,
        on_error: Callable[[BaseException], None] | None = None,
        min_cpu_interval_s: float = MIN_CPU_INTERVAL_S,
    ) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0:
            raise ValueError(f"resource sampling interval must be > 0 seconds, got {interval_s!r}")
        self.interval_s = float(interval_s)
        self.samples = 0
        self._record = record
        self._on_error = on_error
        self.reader = ResourceReader(prime=True, min_cpu_interval_s=min_cpu_interval_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> dict[str, float]:
        """Take one reading and return it under the metric names, without recording it."""
        return self.reader.read().as_metrics()

    def sample_once(self) -> dict[str, float]:
        """Take one sample now, record it and return it (tests synchronise on this)."""
        values = self.read()
        self._record(values)
        self.samples += 1
        return values

    # -- the thread ------------------------------------------------------------
    def start(self) -> ResourceSampler:
        """Start the sampling thread (idempotent); returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{THREAD_PREFIX}resources", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample_once()
            except MonitorClosedError:
                return
            except Exception as error:  # noqa: BLE001 - a failed reading must not end sampling
                if self._on_error is not None:
                    self._on_error(error)

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop the thread and wait for it; True when it has ended."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return not self.running
