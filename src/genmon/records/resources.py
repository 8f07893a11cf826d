"""What ``monitor.resource_snapshot()`` returns, and the names the resource sampler records.

``RESOURCE_METRICS`` is the one table of the sampler's metric names, units
and meanings (the README shows it); ``RESOURCE_ALIASES`` maps the names mtaio
users give ``set_threshold`` (``cpu_usage``, ``memory_usage``...) to them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "RESOURCE_ALIASES",
    "RESOURCE_METRICS",
    "CpuStats",
    "DiskStats",
    "MemoryStats",
    "NetworkStats",
    "ProcessStats",
    "ResourceSnapshot",
    "resource_metric",
]

DEFAULT_INTERVAL_S = 5.0  # seconds between the sampler's readings

# name -> (unit, what it is). A figure that compares two readings (CPU, rates) is
# left out of a sample that has no earlier reading to compare with.
RESOURCE_METRICS: dict[str, tuple[str, str]] = {
    "process/cpu_percent": (
        "%",
        "this process's CPU time over the interval; 100 = one core busy (at most 100 x cores)",
    ),
    "process/rss_bytes": ("bytes", "this process's resident memory"),
    "process/threads": ("threads", "this process's OS threads"),
    "process/open_files": ("files", "regular files this process has open (left out where the OS refuses)"),
    "system/cpu_percent": ("%", "all cores busy over the interval, 0-100"),
    "system/memory_percent": ("%", "memory in use, 0-100"),
    "system/memory_used_bytes": ("bytes", "memory in use (total minus free, buffers and cache on Linux)"),
    "system/memory_available_bytes": ("bytes", "memory available without swapping"),
    "system/load_average_1m": ("processes", "1-minute load average (left out where the OS keeps none: Windows)"),
    "system/load_average_5m": ("processes", "5-minute load average"),
    "system/load_average_15m": ("processes", "15-minute load average"),
    "system/disk_read_bytes_per_s": ("bytes/s", "disk reads over the interval (left out without a disk)"),
    "system/disk_write_bytes_per_s": ("bytes/s", "disk writes over the interval"),
    "system/network_recv_bytes_per_s": ("bytes/s", "network bytes received over the interval"),
    "system/network_sent_bytes_per_s": ("bytes/s", "network bytes sent over the interval"),
}

# The names mtaio's ResourceMonitor checks thresholds on, as genmon records them.
RESOURCE_ALIASES: dict[str, str] = {
    "cpu_usage": "system/cpu_percent",
    "memory_usage": "system/memory_percent",
    "load_average": "system/load_average_1m",
    "thread_count": "process/threads",
}
_NAMESPACES = ("process/", "system/")


def resource_metric(name: str) -> str | None:
    """The sampler metric ``name`` stands for: itself, or the one its alias names; None for other metrics.

    A name in the sampler's namespaces (``process/``, ``system/``) that it does
    not record raises ``ValueError`` listing those it does: a threshold on a
    misspelt resource would otherwise watch an empty series forever.
    """
    if name in RESOURCE_METRICS:
        return name
    alias = RESOURCE_ALIASES.get(name)
    if alias is not None:
        return alias
    if name.startswith(_NAMESPACES):
        known = ", ".join([*RESOURCE_METRICS, *RESOURCE_ALIASES])
        raise ValueError(f"{name!r} is not a metric the resource sampler records; it records {known}")
    return None


@dataclass(frozen=True, slots=True)
class CpuStats:
    """CPU figures: the busy share over the interval, the load averages, the logical CPUs."""

    percent: float | None  # all cores, 0-100; None on a first reading or an interval under 50 ms
    load_average: tuple[float, float, float] | None  # 1, 5 and 15 minutes; None where the OS keeps none
    count: int  # logical CPUs


@dataclass(frozen=True, slots=True)
class MemoryStats:
    """System memory in bytes, as ``psutil.virtual_memory()`` reports it."""

    total_bytes: int
    used_bytes: int
    available_bytes: int
    percent: float  # 0-100


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """This process: resident memory, OS threads, open files and CPU share."""

    rss_bytes: int
    threads: int
    open_files: int | None  # None where the OS refuses to tell
    cpu_percent: float | None  # 100 = one core busy; None like ``CpuStats.percent``


@dataclass(frozen=True, slots=True)
class DiskStats:
    """System-wide disk I/O: counters since boot, and rates over the interval (None on a first reading)."""

    read_bytes: int
    write_bytes: int
    read_count: int
    write_count: int
    read_bytes_per_s: float | None
    write_bytes_per_s: float | None


@dataclass(frozen=True, slots=True)
class NetworkStats:
    """System-wide network I/O: counters since boot, and rates over the interval (None on a first reading)."""

    recv_bytes: int
    sent_bytes: int
    packets_recv: int
    packets_sent: int
    recv_bytes_per_s: float | None
    sent_bytes_per_s: float | None


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    """One reading of the process and the machine (mtaio's ``SystemStats``, with units in the names).

    ``interval_s`` is the time since the previous reading that CPU shares and
    I/O rates cover; on a first reading it is None, and so are they (psutil's
    first ``cpu_percent()`` answers a meaningless 0.0 instead). ``disk`` is
    None where psutil finds no disk (containers without block devices),
    ``network`` where it finds no interface.
    """

    timestamp: float  # epoch seconds
    interval_s: float | None
    cpu: CpuStats
    memory: MemoryStats
    process: ProcessStats
    disk: DiskStats | None
    network: NetworkStats | None

    def as_metrics(self) -> dict[str, float]:
        """The figures under the sampler's metric names (``RESOURCE_METRICS``); unknown figures left out."""
        process, memory, cpu = self.process, self.memory, self.cpu
        out: dict[str, float] = {
            "process/rss_bytes": float(process.rss_bytes),
            "process/threads": float(process.threads),
        }
        if process.open_files is not None:
            out["process/open_files"] = float(process.open_files)
        if process.cpu_percent is not None:
            out["process/cpu_percent"] = process.cpu_percent
        if cpu.percent is not None:
            out["system/cpu_percent"] = cpu.percent
        out["system/memory_percent"] = float(memory.percent)
        out["system/memory_used_bytes"] = float(memory.used_bytes)
        out["system/memory_available_bytes"] = float(memory.available_bytes)
        if cpu.load_average is not None:
            for minutes, load in zip((1, 5, 15), cpu.load_average, strict=True):
                out[f"system/load_average_{minutes}m"] = load
        disk, network = self.disk, self.network
        if disk is not None and disk.read_bytes_per_s is not None and disk.write_bytes_per_s is not None:
            out["system/disk_read_bytes_per_s"] = disk.read_bytes_per_s
            out["system/disk_write_bytes_per_s"] = disk.write_bytes_per_s
        if network is not None and network.recv_bytes_per_s is not None and network.sent_bytes_per_s is not None:
            out["system/network_recv_bytes_per_s"] = network.recv_bytes_per_s
            out["system/network_sent_bytes_per_s"] = network.sent_bytes_per_s
        return out
