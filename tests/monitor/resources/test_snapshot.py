"""monitor.resource_snapshot(): a typed reading of the process and the machine, and the sampler's one table of names."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from genmon import GenerationMonitor, ResourceSnapshot
from genmon.monitor.resources import reader as reader_module
from genmon.monitor.resources.reader import ResourceReader
from genmon.records.resources import RESOURCE_ALIASES, RESOURCE_METRICS
from genmon.testing import ManualClock

Make = Callable[..., GenerationMonitor]
README = Path(__file__).resolve().parents[3] / "README.md"


def burn_cpu(seconds: float) -> None:
    """Spend ``seconds`` of this process's CPU time, so a CPU share has something to measure."""
    start = time.process_time()
    total = 0
    while time.process_time() - start < seconds:
        total += sum(range(1000))


def test_first_snapshot_has_totals_and_no_shares_or_rates(make_monitor: Make, clock: ManualClock) -> None:
    """The first reading has nothing to compare with: CPU shares and rates are None, never psutil's made-up 0.0."""
    monitor = make_monitor(clock=clock)
    snapshot = monitor.resource_snapshot()
    assert isinstance(snapshot, ResourceSnapshot)
    assert snapshot.timestamp == clock()  # the monitor's clock
    assert snapshot.interval_s is None
    assert snapshot.cpu.percent is None and snapshot.process.cpu_percent is None
    assert snapshot.cpu.count == psutil.cpu_count()
    memory = snapshot.memory
    assert memory.total_bytes == psutil.virtual_memory().total
    assert 0 < memory.available_bytes <= memory.total_bytes and 0 < memory.used_bytes <= memory.total_bytes
    assert 0 <= memory.percent <= 100
    assert snapshot.process.rss_bytes > 0 and snapshot.process.threads >= 1
    if hasattr(os, "getloadavg"):
        assert snapshot.cpu.load_average is not None and len(snapshot.cpu.load_average) == 3
        assert all(load >= 0 for load in snapshot.cpu.load_average)
    if snapshot.disk is not None:
        assert snapshot.disk.read_bytes >= 0 and snapshot.disk.read_bytes_per_s is None
    if snapshot.network is not None:
        assert snapshot.network.recv_bytes >= 0 and snapshot.network.recv_bytes_per_s is None
    assert "system/cpu_percent" not in snapshot.as_metrics()


def test_the_next_snapshot_covers_the_time_since_the_previous(make_monitor: Make) -> None:
    """A second reading measures CPU shares and I/O rates over the interval since the first."""
    monitor = make_monitor()
    first = monitor.resource_snapshot()
    burn_cpu(0.1)
    second = monitor.resource_snapshot()
    assert second.interval_s is not None and second.interval_s >= 0.1
    assert second.process.cpu_percent is not None and 0 < second.process.cpu_percent <= 100 * second.cpu.count
    assert second.cpu.percent is not None and 0 < second.cpu.percent <= 100
    for before, after in ((first.disk, second.disk), (first.network, second.network)):
        if after is not None:
            assert before is not None
            rates = [getattr(after, name) for name in after.__slots__ if name.endswith("_per_s")]
            assert rates and all(rate is not None and rate >= 0 for rate in rates)
    if second.disk is not None and first.disk is not None:
        assert second.disk.read_bytes >= first.disk.read_bytes  # counters since boot never go back


def test_an_interval_waits_and_measures_the_first_call(make_monitor: Make) -> None:
    """resource_snapshot(interval=...) waits that long, as psutil.cpu_percent(interval) does, so even a first call has shares."""
    monitor = make_monitor()
    snapshot = monitor.resource_snapshot(interval=0.06)
    assert snapshot.interval_s is not None and snapshot.interval_s >= 0.06
    assert snapshot.cpu.percent is not None and snapshot.process.cpu_percent is not None
    with pytest.raises(ValueError, match="interval"):
        monitor.resource_snapshot(interval=-1)
    with pytest.raises(TypeError, match="interval"):
        monitor.resource_snapshot(interval="1s")  # type: ignore[arg-type]


def test_a_machine_without_disks_or_interfaces_has_none_for_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """psutil answers None for disks in containers without block devices: the snapshot says None and leaves the rates out."""
    monkeypatch.setattr(psutil, "disk_io_counters", lambda *args, **kwargs: None)
    monkeypatch.setattr(psutil, "net_io_counters", lambda *args, **kwargs: None)
    reader = ResourceReader()
    reader.read()
    snapshot = reader.read()
    assert snapshot.disk is None and snapshot.network is None
    assert not [name for name in snapshot.as_metrics() if "disk" in name or "network" in name]


def test_io_rates_are_the_change_over_the_interval_in_their_own_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each *_per_s is (counter now - counter before) / seconds between readings: read/write and recv/sent not swapped."""
    # psutil's own fields (sdiskio, snetio on Linux); every counter moves by a different amount,
    # so a rate computed from another counter, or put in another counter's field, shows.
    disk_counters = namedtuple("disk_counters", "read_count write_count read_bytes write_bytes read_time write_time")
    net_counters = namedtuple("net_counters", "bytes_sent bytes_recv packets_sent packets_recv errin errout")
    disks = iter(
        [
            disk_counters(
                read_count=1_000, write_count=50_000, read_bytes=10, write_bytes=20, read_time=0, write_time=0
            ),
            disk_counters(
                read_count=4_000, write_count=90_000, read_bytes=13, write_bytes=27, read_time=9, write_time=9
            ),
        ]
    )
    networks = iter(
        [
            net_counters(bytes_sent=7_000, bytes_recv=2_000, packets_sent=70, packets_recv=20, errin=0, errout=0),
            net_counters(bytes_sent=7_500, bytes_recv=14_000, packets_sent=75, packets_recv=38, errin=0, errout=0),
        ]
    )
    readings = iter([100.0, 104.0])  # the reader's monotonic clock: 4 s between the two readings
    monkeypatch.setattr(psutil, "disk_io_counters", lambda *args, **kwargs: next(disks))
    monkeypatch.setattr(psutil, "net_io_counters", lambda *args, **kwargs: next(networks))
    monkeypatch.setattr(reader_module, "time", SimpleNamespace(monotonic=lambda: next(readings)))
    reader = ResourceReader(clock=lambda: 1_800_000_000.0)
    first = reader.read()
    assert first.disk is not None and first.disk.read_bytes_per_s is None
    snapshot = reader.read()
    assert snapshot.interval_s == 4.0
    disk, network = snapshot.disk, snapshot.network
    assert disk is not None and network is not None
    assert (disk.read_bytes, disk.write_bytes, disk.read_count, disk.write_count) == (13, 27, 4_000, 90_000)
    assert (disk.read_bytes_per_s, disk.write_bytes_per_s) == ((13 - 10) / 4, (27 - 20) / 4)
    assert (network.recv_bytes, network.sent_bytes) == (14_000, 7_500)
    assert (network.packets_recv, network.packets_sent) == (38, 75)
    assert (network.recv_bytes_per_s, network.sent_bytes_per_s) == ((14_000 - 2_000) / 4, (7_500 - 7_000) / 4)
    metrics = snapshot.as_metrics()
    rates = {name: value for name, value in metrics.items() if name.endswith("_per_s")}
    assert rates == {
        "system/disk_read_bytes_per_s": 0.75,
        "system/disk_write_bytes_per_s": 1.75,
        "system/network_recv_bytes_per_s": 3_000.0,
        "system/network_sent_bytes_per_s": 125.0,
    }


def test_cpu_shares_are_left_out_over_too_short_an_interval() -> None:
    """Under the minimum interval (CPU time is counted in ticks) the shares are None and the baseline is kept."""
    reader = ResourceReader(min_cpu_interval_s=3600)
    reader.read()
    snapshot = reader.read()
    assert snapshot.cpu.percent is None and snapshot.process.cpu_percent is None
    assert snapshot.interval_s is not None  # the rates still cover the interval


def test_snapshot_metrics_are_the_samplers_names(make_monitor: Make) -> None:
    """as_metrics() uses only the names of RESOURCE_METRICS, and a second reading has every figure Linux gives."""
    monitor = make_monitor()
    monitor.resource_snapshot(interval=0.06)
    metrics = monitor.resource_snapshot(interval=0.06).as_metrics()
    assert set(metrics) <= set(RESOURCE_METRICS)
    expected = {name for name in RESOURCE_METRICS if not name.startswith(("system/disk", "system/network"))}
    if not hasattr(os, "getloadavg"):
        expected -= {name for name in expected if "load_average" in name}
    assert expected <= set(metrics)
    sampled = monitor.sample_resources(interval=3600).sample_once()
    assert set(sampled) <= set(RESOURCE_METRICS)


def test_snapshots_from_threads_and_tasks(make_monitor: Make) -> None:
    """Threads and asyncio tasks (through to_thread) may take snapshots at once; each gets a whole reading."""
    monitor = make_monitor()
    results: list[ResourceSnapshot] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(5):
            snapshot = monitor.resource_snapshot()
            with lock:
                results.append(snapshot)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    async def gather() -> list[ResourceSnapshot]:
        return list(await asyncio.gather(*(asyncio.to_thread(monitor.resource_snapshot) for _ in range(4))))

    results.extend(asyncio.run(gather()))
    assert len(results) == 24
    assert all(snapshot.process.rss_bytes > 0 for snapshot in results)
    assert sum(snapshot.interval_s is None for snapshot in results) == 1  # one reader: only the very first is a first


def test_the_readme_table_is_the_samplers_table() -> None:
    """The README's table of sampler metrics lists exactly RESOURCE_METRICS with their units, and the aliases."""
    text = README.read_text()
    section = text[text.index("<!-- resource-metrics -->") : text.index("<!-- /resource-metrics -->")]
    rows = dict(re.findall(r"^\| `([a-z_/0-9]+)` \| ([^|]+?) \|", section, flags=re.MULTILINE))
    assert {name: unit for name, unit in rows.items() if "/" in name} == {
        name: unit for name, (unit, _) in RESOURCE_METRICS.items()
    }
    for alias, metric in RESOURCE_ALIASES.items():  # mtaio's name in the last column of its metric's row
        assert re.search(rf"^\| `{re.escape(metric)}` \|[^\n]*\| `{alias}` \|$", section, flags=re.MULTILINE), alias
