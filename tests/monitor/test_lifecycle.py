"""No loss at shutdown, isolated handlers, bounded close, and no leaks."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from genmon import GenerationMonitor, MonitorClosedError
from genmon.testing import BlockingHandler, CapturingLogHandler, CapturingMetricHandler, RaisingHandler

THREADS = 4
PER_THREAD = 250_000


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def produce(monitor: GenerationMonitor, threads: int = THREADS, per_thread: int = PER_THREAD) -> None:
    def work(k: int) -> None:
        record = monitor.record_metric
        name = f"m{k}"
        for i in range(per_thread):
            record(name, i)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


@pytest.mark.parametrize("ending", ["shutdown", "close"])
def test_four_threads_lose_nothing_at_shutdown_or_close(tmp_path: Path, ending: str) -> None:
    """4 x 250,000 record_metric calls then shutdown()/close() right away: store and metrics.jsonl hold them all."""
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, shutdown_timeout=60, max_points_per_metric=None)
    produce(monitor)
    getattr(monitor, ending)()
    for k in range(THREADS):
        assert monitor.store.count(f"m{k}") == PER_THREAD
        data = monitor.store.series(f"m{k}")
        assert data is not None and sorted(data.values.tolist()) == list(map(float, range(PER_THREAD)))
    assert count_lines(tmp_path / "metrics.jsonl") == THREADS * PER_THREAD
    stats = monitor.stats()
    assert stats["processed"] == THREADS * PER_THREAD and stats["dropped"] == {}


def test_interpreter_exit_drains_without_close(tmp_path: Path) -> None:
    """A program that never closes its monitor still persists every point at interpreter exit."""
    script = textwrap.dedent(
        f"""
        import threading
        from genmon import GenerationMonitor
        monitor = GenerationMonitor(log_dir={str(tmp_path)!r}, metrics_interval=0, shutdown_timeout=60)
        def work(k):
            for i in range(100_000):
                monitor.record_metric("m", i)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        monitor.log_info("last words")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert count_lines(tmp_path / "metrics.jsonl") == 400_000
    assert "last words" in (tmp_path / "genmon.log").read_text()


def test_raising_and_blocking_handlers_do_not_stop_the_others(tmp_path: Path) -> None:
    """A raising and a blocked handler: files and other handlers get everything; flush is False; close is bounded.

    The blocked handler's points left at the close deadline are counted as close_timeout, and it is fed no more.
    """
    raising, blocking, capturing = RaisingHandler(), BlockingHandler("stuck"), CapturingMetricHandler()
    logs = CapturingLogHandler()
    monitor = GenerationMonitor(
        log_dir=tmp_path,
        # Lanes are flushed in handler order: the capturing lane is awaited before the stuck one.
        metric_handlers=[raising, capturing, blocking, _default_file(tmp_path)],
        log_handlers=[logs],
        metrics_interval=0,
        shutdown_timeout=0.2,
    )
    try:
        for i in range(1000):
            monitor.record_metric("x", i)
        assert blocking.entered.wait(10)
        assert monitor.flush(timeout=2) is False
        assert monitor.sync_store(10)
        assert capturing.values("x") == list(map(float, range(1000)))
        assert count_lines(tmp_path / "metrics.jsonl") == 1000
        assert monitor.get_metrics("x")["count"] == 1000
        assert monitor.stats()["handler_errors"]["RaisingHandler"] >= 1
        started = time.monotonic()
        monitor.shutdown()
        # Bounded by shutdown_timeout; the margin absorbs a loaded machine, not a fixed wait.
        assert time.monotonic() - started < 0.2 + 3
        assert any("RaisingHandler" in m for m in logs.messages("error"))
        stuck = monitor.stats()["sinks"]["stuck"]
        assert stuck["received"] == 1000 and stuck["delivered"] == 0 and stuck["dropped"] == {"close_timeout": 1000}
        assert any("stuck: 1000 records not delivered by the close deadline" in m for m in logs.messages("error"))
    finally:
        blocking.release()
    for thread in threading.enumerate():
        if thread.name == "genmon-lane-stuck":
            thread.join(10)
    assert blocking.values("x") == [0.0]  # the call in progress at the deadline ended; no other was made


def _default_file(tmp_path: Path):
    from genmon import FileMetricHandler

    return FileMetricHandler(tmp_path)


def test_raising_log_handler_never_kills_the_log_worker(make_monitor) -> None:
    """A log handler that always raises is counted while the other log handler keeps receiving."""
    good = CapturingLogHandler()
    monitor = make_monitor(log_handlers=[RaisingHandler(), good])
    for i in range(50):
        monitor.log_info(f"m{i}")
    assert monitor.flush(10)
    assert [m for m in good.messages() if m.startswith("m")] == [f"m{i}" for i in range(50)]
    assert monitor.stats()["handler_errors"]["RaisingHandler"] >= 1


def test_recording_after_close_raises_and_close_twice_is_harmless(make_monitor) -> None:
    """Every record call after close raises MonitorClosedError; a second close returns quietly."""
    monitor = make_monitor()
    monitor.record_metric("x", 1)
    assert monitor.close() is True
    assert monitor.close() is True
    monitor.shutdown()
    for call in (
        lambda: monitor.record_metric("x", 1),
        lambda: monitor.track_generation(1.0, True),
        lambda: monitor.log_info("x"),
        lambda: monitor.record_metrics({"a": 1}),
    ):
        with pytest.raises(MonitorClosedError):
            call()
    assert monitor.store.count("x") == 1


def test_context_manager_closes(tmp_path: Path) -> None:
    """Leaving the with-block drains and closes the monitor."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        monitor.record_metric("x", 1)
    assert count_lines(tmp_path / "metrics.jsonl") == 1
    with pytest.raises(MonitorClosedError):
        monitor.record_metric("x", 1)


def test_no_thread_file_handle_or_logger_left_after_close(tmp_path: Path) -> None:
    """After close no genmon thread runs, no file under log_dir is open and no logger was created."""
    loggers_before = set(logging.Logger.manager.loggerDict)
    process = psutil.Process()
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=None, log_handlers=None, metrics_interval=0)
    monitor.record_metric("x", 1)
    monitor.log_info("hello")
    assert monitor.flush(10)
    assert any(str(tmp_path) in f.path for f in process.open_files())
    monitor.close()
    assert not [f.path for f in process.open_files() if str(tmp_path) in f.path]
    assert not [t.name for t in threading.enumerate() if t.name.startswith("genmon-")]
    assert set(logging.Logger.manager.loggerDict) == loggers_before
    del monitor
    gc.collect()


def test_full_disk_degrades_only_the_file_sink(make_monitor, tmp_path: Path) -> None:
    """A file sink that cannot write is counted; the store and other handlers still get every point."""
    capturing = CapturingMetricHandler()
    from genmon import FileMetricHandler

    broken = FileMetricHandler(tmp_path / "no-such-dir-file")
    (tmp_path / "no-such-dir-file").write_text("a file where a directory should be")
    monitor = make_monitor(metric_handlers=[broken, capturing])
    for i in range(10):
        monitor.record_metric("x", i)
    assert monitor.flush(10)
    assert len(capturing.points) == 10 and monitor.store.count("x") == 10
    assert monitor.stats()["handler_errors"]["FileMetricHandler"] >= 1


class _TimedSink:
    def __init__(self) -> None:
        self.timeouts: dict[str, float] = {}

    def handle_metric(self, metric_name: str, value: float, metadata: dict) -> None:
        pass

    def flush(self, timeout_s: float) -> None:
        self.timeouts["flush"] = timeout_s

    def close(self, timeout_s: float) -> None:
        self.timeouts["close"] = timeout_s


def test_handlers_get_the_time_left_of_the_callers_flush_and_close(make_monitor) -> None:
    """A handler's flush/close receive what is left of the caller's timeout, not a fixed figure."""
    sink = _TimedSink()
    monitor = make_monitor(metric_handlers=[sink])
    assert monitor.flush(timeout=40)
    assert 20 < sink.timeouts["flush"] <= 40
    assert monitor.close(timeout=30)
    assert 10 < sink.timeouts["close"] <= 30


def test_flush_racing_close_never_hangs(make_monitor) -> None:
    """flush() and sync_store() called while another thread closes return instead of waiting forever."""
    for _ in range(20):
        monitor = make_monitor()
        for i in range(200):
            monitor.record_metric("x", i)
        closer = threading.Thread(target=monitor.close)
        closer.start()
        results = [monitor.flush(), monitor.sync_store()]
        closer.join(30)
        assert not closer.is_alive() and all(isinstance(r, bool) for r in results)
        assert monitor.store.count("x") == 200


def test_a_stuck_lane_does_not_keep_the_log_from_closing(tmp_path: Path) -> None:
    """With a blocked metric handler, close() still drains and closes the log file within its bound."""
    blocking = BlockingHandler("stuck")
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[blocking], metrics_interval=0, shutdown_timeout=0.5)
    try:
        monitor.record_metric("x", 1)
        assert blocking.entered.wait(10)
        monitor.log_info("written before close")
        assert monitor.close() is False
        assert not [
            t.name for t in threading.enumerate() if t.name in ("genmon-logs", "genmon-spans", "genmon-metrics")
        ]
        assert "written before close" in (tmp_path / "genmon.log").read_text()
    finally:
        blocking.release()
