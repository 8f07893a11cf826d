"""The resource sampler: a psutil thread recording process and system figures as metrics.

Names follow MLflow's system metrics, under ``process/`` and ``system/``:

=================================== ==============================================
``process/cpu_percent``             this process, 100 = one core busy (max 100 x cores)
``process/rss_bytes``               resident memory
``process/threads``                 OS threads
``process/open_files``              regular files open
``system/cpu_percent``              all cores, 0-100
``system/memory_percent``           memory in use, 0-100
``system/memory_available_bytes``   memory available without swapping
``system/disk_read_bytes_per_s``    disk I/O rates since the previous sample
``system/disk_write_bytes_per_s``
``system/network_recv_bytes_per_s`` network I/O rates since the previous sample
``system/network_sent_bytes_per_s``
``system/load_average_1m``          1-minute load average
=================================== ==============================================

CPU figures and rates compare two readings, so the sampler takes a first
reading when it starts (it is primed) and the first report already covers
a real interval instead of psutil's meaningless first ``0.0``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from genmon.errors import MonitorClosedError
from genmon.monitor.engine.failures import THREAD_PREFIX

DEFAULT_INTERVAL_S = 5.0


def _busy_and_total(times: Any) -> tuple[float, float]:
    # As psutil.cpu_percent computes it (guest time is already in user time on
    # Linux; iowait is idle), but per sampler: psutil keeps its last reading
    # per calling thread, which sample_once() from another thread would disturb.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


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
        min_cpu_interval_s: float = 0.05,
    ) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not interval_s > 0:
            raise ValueError(f"resource sampling interval must be > 0 seconds, got {interval_s!r}")
        import psutil  # a core dependency, imported here so `import genmon` stays light

        self._psutil = psutil
        self.interval_s = float(interval_s)
        self.samples = 0
        self._record = record
        self._on_error = on_error
        self._min_cpu_interval_s = min_cpu_interval_s
        self._process = psutil.Process()
        self._cpu_count = psutil.cpu_count() or 1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._prime()

    def _prime(self) -> None:
        now = time.monotonic()
        self._cpu_at = now
        self._process_cpu = self._process_cpu_seconds()
        self._system_cpu = _busy_and_total(self._psutil.cpu_times())
        self._io_at = now
        self._disk = self._disk_counters()
        self._net = self._net_counters()

    def _process_cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def _disk_counters(self) -> tuple[int, int] | None:
        counters = self._psutil.disk_io_counters()  # None in containers without block devices
        return None if counters is None else (counters.read_bytes, counters.write_bytes)

    def _net_counters(self) -> tuple[int, int] | None:
        counters = self._psutil.net_io_counters()
        return None if counters is None else (counters.bytes_recv, counters.bytes_sent)

    # -- sampling --------------------------------------------------------------
    def read(self) -> dict[str, float]:
        """Take one reading and return it, without recording it."""
        psutil, proc = self._psutil, self._process
        with self._lock, proc.oneshot():
            now = time.monotonic()
            out: dict[str, float] = {"process/rss_bytes": float(proc.memory_info().rss)}
            out["process/threads"] = float(proc.num_threads())
            try:
                out["process/open_files"] = float(len(proc.open_files()))
            except psutil.Error:  # AccessDenied on some platforms: leave it out
                pass
            memory = psutil.virtual_memory()
            out["system/memory_percent"] = float(memory.percent)
            out["system/memory_available_bytes"] = float(memory.available)
            if hasattr(psutil, "getloadavg"):
                out["system/load_average_1m"] = float(psutil.getloadavg()[0])
            self._read_cpu(now, out)
            self._read_io(now, out)
        return out

    def _read_cpu(self, now: float, out: dict[str, float]) -> None:
        elapsed = now - self._cpu_at
        if elapsed < self._min_cpu_interval_s:
            return  # keep the baseline: the next sample covers a longer interval
        process_cpu = self._process_cpu_seconds()
        busy, total = _busy_and_total(self._psutil.cpu_times())
        percent = (process_cpu - self._process_cpu) / elapsed * 100.0
        # Tick rounding can overshoot the physical bound over short intervals.
        out["process/cpu_percent"] = min(max(percent, 0.0), 100.0 * self._cpu_count)
        busy_delta, total_delta = busy - self._system_cpu[0], total - self._system_cpu[1]
        if total_delta > 0:
            out["system/cpu_percent"] = min(max(busy_delta / total_delta * 100.0, 0.0), 100.0)
        self._cpu_at, self._process_cpu, self._system_cpu = now, process_cpu, (busy, total)

    def _read_io(self, now: float, out: dict[str, float]) -> None:
        elapsed = now - self._io_at
        if elapsed <= 0:
            return
        disk, net = self._disk_counters(), self._net_counters()
        names = (
            (disk, self._disk, "system/disk_read_bytes_per_s", "system/disk_write_bytes_per_s"),
            (net, self._net, "system/network_recv_bytes_per_s", "system/network_sent_bytes_per_s"),
        )
        for current, previous, first, second in names:
            if current is not None and previous is not None:
                # Counters can wrap or reset (a NIC going away): never report a negative rate.
                out[first] = max(current[0] - previous[0], 0) / elapsed
                out[second] = max(current[1] - previous[1], 0) / elapsed
        self._io_at, self._disk, self._net = now, disk, net

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
