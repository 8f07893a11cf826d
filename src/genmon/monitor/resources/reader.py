"""Readings of the process and the machine with psutil, each compared with the one before.

CPU shares and I/O rates compare two readings, so a ``ResourceReader`` keeps
its previous one. It computes CPU shares from ``cpu_times()`` itself rather
than calling ``psutil.cpu_percent()``, which keeps its last reading per
calling thread (a reading taken from another thread would answer against a
different baseline) and answers a meaningless 0.0 the first time. The load
average comes from ``os.getloadavg()``: psutil emulates it on Windows with a
background thread whose first answers are zeros, so there it is left out.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from genmon.records.resources import (
    CpuStats,
    DiskStats,
    MemoryStats,
    NetworkStats,
    ProcessStats,
    ResourceSnapshot,
)
from genmon.records.validation import to_seconds

# CPU time is counted in clock ticks (10 ms on Linux): over a shorter interval a share is noise.
MIN_CPU_INTERVAL_S = 0.05


class _Reading(NamedTuple):
    at: float  # time.monotonic()
    process_cpu_s: float
    busy_s: float
    total_s: float
    disk: Any  # psutil's sdiskio or None
    network: Any  # psutil's snetio or None


def _busy_and_total(times: Any) -> tuple[float, float]:
    # As psutil.cpu_percent computes it: guest time is already in user time on Linux; iowait is idle.
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


def _rate(current: int, previous: int, elapsed: float) -> float:
    # psutil corrects counters that wrap (nowrap=True); a NIC that goes away can still reset them.
    return max(current - previous, 0) / elapsed


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15-minute load averages, or None where the OS keeps none."""
    getloadavg = getattr(os, "getloadavg", None)
    if getloadavg is None:
        return None
    try:
        one, five, fifteen = getloadavg()
    except OSError:  # "unobtainable" (a restricted /proc)
        return None
    return float(one), float(five), float(fifteen)


class ResourceReader:
    """Takes ``ResourceSnapshot`` readings; each one's CPU shares and rates cover the time since the previous.

    Thread-safe: readings are taken one at a time.

    Args:
        clock: epoch seconds for the snapshot's timestamp.
        prime: take a first reading now, so the first ``read()`` already
            covers an interval (the sampler does); otherwise the first
            ``read()`` has no CPU shares or rates.
        min_cpu_interval_s: CPU shares are computed only over intervals at
            least this long; a shorter one keeps the CPU baseline, so the next
            reading covers a longer interval.

    Example:
        >>> reader = ResourceReader()
        >>> reader.read().cpu.percent is None  # a first reading has nothing to compare with
        True
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        prime: bool = False,
        min_cpu_interval_s: float = MIN_CPU_INTERVAL_S,
    ) -> None:
        import psutil  # a core dependency, imported here so `import genmon` stays light

        self._psutil = psutil
        self._process = psutil.Process()
        self._cpu_count = psutil.cpu_count() or 1
        self._clock = clock
        self._min_cpu_interval_s = min_cpu_interval_s
        self._lock = threading.Lock()
        self._previous: _Reading | None = None
        self._cpu_baseline: _Reading | None = None
        if prime:
            with self._lock:
                self._previous = self._cpu_baseline = self._counters()

    def _counters(self) -> _Reading:
        times = self._process.cpu_times()
        busy, total = _busy_and_total(self._psutil.cpu_times())
        disk = self._psutil.disk_io_counters()  # None where psutil finds no disk (containers)
        network = self._psutil.net_io_counters()
        return _Reading(time.monotonic(), float(times.user + times.system), busy, total, disk, network)

    def read(self) -> ResourceSnapshot:
        """Take a reading now; its CPU shares and rates cover the time since the previous one."""
        psutil, process = self._psutil, self._process
        with self._lock, process.oneshot():
            timestamp = self._clock()
            rss = int(process.memory_info().rss)
            threads = int(process.num_threads())
            try:
                open_files: int | None = len(process.open_files())
            except psutil.Error:  # AccessDenied on some platforms
                open_files = None
            memory = psutil.virtual_memory()
            now = self._counters()
            previous, baseline = self._previous, self._cpu_baseline
            process_cpu, system_cpu = self._cpu_shares(now, baseline)
            if baseline is None or process_cpu is not None:
                self._cpu_baseline = now
            self._previous = now
        elapsed = None if previous is None else now.at - previous.at
        usable = elapsed if elapsed is not None and elapsed > 0 else None
        return ResourceSnapshot(
            timestamp=timestamp,
            interval_s=elapsed,
            cpu=CpuStats(system_cpu, load_average(), self._cpu_count),
            memory=MemoryStats(int(memory.total), int(memory.used), int(memory.available), float(memory.percent)),
            process=ProcessStats(rss, threads, open_files, process_cpu),
            disk=_disk(now.disk, previous.disk if previous is not None else None, usable),
            network=_network(now.network, previous.network if previous is not None else None, usable),
        )

    def _cpu_shares(self, now: _Reading, baseline: _Reading | None) -> tuple[float | None, float | None]:
        if baseline is None:
            return None, None
        elapsed = now.at - baseline.at
        if elapsed < self._min_cpu_interval_s:
            return None, None
        # Tick rounding can overshoot the physical bound over short intervals.
        process = min(max((now.process_cpu_s - baseline.process_cpu_s) / elapsed * 100.0, 0.0), 100.0 * self._cpu_count)
        total = now.total_s - baseline.total_s
        system = min(max((now.busy_s - baseline.busy_s) / total * 100.0, 0.0), 100.0) if total > 0 else None
        return process, system


def _rates(current: Any, previous: Any, elapsed: float | None, names: tuple[str, str]) -> tuple[Any, Any]:
    if previous is None or elapsed is None:
        return None, None
    return tuple(_rate(getattr(current, name), getattr(previous, name), elapsed) for name in names)  # type: ignore[return-value]


def _disk(current: Any, previous: Any, elapsed: float | None) -> DiskStats | None:
    if current is None:
        return None
    rates = _rates(current, previous, elapsed, ("read_bytes", "write_bytes"))
    return DiskStats(current.read_bytes, current.write_bytes, current.read_count, current.write_count, *rates)


def _network(current: Any, previous: Any, elapsed: float | None) -> NetworkStats | None:
    if current is None:
        return None
    rates = _rates(current, previous, elapsed, ("bytes_recv", "bytes_sent"))
    return NetworkStats(current.bytes_recv, current.bytes_sent, current.packets_recv, current.packets_sent, *rates)


class SnapshotTaker:
    """What ``monitor.resource_snapshot()`` calls: one reader, built (and psutil loaded) at the first call."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._reader: ResourceReader | None = None
        self._lock = threading.Lock()

    def take(self, interval_s: float | None = None) -> ResourceSnapshot:
        """A reading compared with the previous call's (none on the first), or, given ``interval_s``, over that wait."""
        if interval_s is not None:
            interval_s = to_seconds(interval_s, "interval")
        with self._lock:
            if self._reader is None:
                self._reader = ResourceReader(self._clock)
            reader = self._reader
        if interval_s:
            reader.read()
            time.sleep(interval_s)  # the caller asked to wait, as with psutil.cpu_percent(interval)
        return reader.read()
