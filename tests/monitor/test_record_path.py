"""The record path takes no store lock and does no I/O; files are written once per batch and survive a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from genmon.handlers.append_only import AppendOnlyFile


class _StalledSink:
    """An inline sink holding the metric worker (and so all file I/O) until released."""

    runs_inline = True

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

    def handle_batch(self, points: list[Any]) -> None:
        self.entered.set()
        self.released.wait(30)


def test_recording_needs_neither_the_store_lock_nor_the_worker(make_monitor) -> None:
    """With the store's lock held elsewhere and the worker stalled in I/O, record calls still return at once."""
    sink = _StalledSink()
    monitor = make_monitor(metric_handlers=[sink])
    monitor.record_metric("first", 1.0)
    assert sink.entered.wait(10)
    done = threading.Event()

    def record() -> None:
        for i in range(1000):
            monitor.record_metric("x", float(i), {"k": "v"})
            monitor.track_generation(0.1, True, model_name="m", prompt_token_count=3)
            monitor.log_info("still recording")
        done.set()

    with monitor.store._lock:  # a reader (an export, get_metrics) holding the store
        producer = threading.Thread(target=record)
        producer.start()
        producer.join(30)  # a record path that took the lock or waited on I/O would still be blocked here
        assert done.is_set()
    sink.released.set()
    assert monitor.flush(10)
    assert monitor.store.count("x") == 1000


def test_metrics_jsonl_is_written_in_a_few_large_writes(make_monitor, monkeypatch) -> None:
    """A backlog of 10,000 points reaches metrics.jsonl in a handful of write calls of about WRITE_BYTES, not one a line."""
    writes: list[int] = []
    real_write = AppendOnlyFile.write

    def counting_write(self: AppendOnlyFile, data: bytes) -> None:
        writes.append(data.count(b"\n"))
        real_write(self, data)

    monkeypatch.setattr(AppendOnlyFile, "write", counting_write)
    sink = _StalledSink()
    from genmon import FileMetricHandler

    monitor = make_monitor(metric_handlers=[sink], log_handlers=[])
    monitor.record_metric("first", 1.0)
    assert sink.entered.wait(10)
    file_sink = FileMetricHandler(monitor.log_dir)
    monitor.metric_handlers.append(file_sink)  # live: fed from the next batch, so it sees the backlog as batches
    for i in range(10_000):
        monitor.record_metric("x", float(i))
    sink.released.set()
    assert monitor.flush(10)
    file_sink.close()
    # the backlog, in batches of up to 4,096 points, each in runs of about WRITE_BYTES (~3,000 of these lines)
    assert sum(writes) == 10_000 and len(writes) <= 8


def test_a_crash_loses_at_most_the_batch_in_flight_and_leaves_no_broken_line(tmp_path: Path) -> None:
    """A process killed right after flush() leaves every flushed point in metrics.jsonl, each line whole."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from genmon import GenerationMonitor
        monitor = GenerationMonitor(log_dir={str(tmp_path)!r}, metrics_interval=0)
        for i in range(50_000):
            monitor.record_metric("m", i)
        assert monitor.flush(60)
        for i in range(50_000, 60_000):
            monitor.record_metric("m", i)  # in flight when the process dies
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], timeout=120, check=False)
    assert done.returncode == -9
    lines = (tmp_path / "metrics.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends with a whole line
    values = [json.loads(line)["value"] for line in lines[:-1]]
    assert values[:50_000] == list(map(float, range(50_000))) and len(values) <= 60_000


def test_repeated_text_metadata_is_written_as_given_and_other_values_keep_their_type(make_monitor, tmp_path) -> None:
    """record_metric finds text metadata it met last by one comparison; numbers and new text take the full check."""
    monitor = make_monitor(log_dir=tmp_path)
    monitor.record_metric("x", 1.0, {"model_name": "a", "operation": "chat"})
    monitor.record_metric("x", 2.0, {"model_name": "a", "operation": "chat"})  # the same text: the shared dict
    monitor.record_metric("x", 3.0, {"model_name": "b", "operation": "chat"})
    monitor.record_metric("x", 4.0, {"model_name": 1, "operation": "chat"})  # 1 is no text: checked, kept an int
    monitor.record_metric("x", 5.0, {"model_name": True, "operation": "chat"})
    monitor.record_metric("x", 6.0, {"operation": "chat", "model_name": "b"})  # equal text, another order
    assert monitor.flush(30)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    models = [(line["value"], line["model_name"]) for line in lines]
    assert models == [(1.0, "a"), (2.0, "a"), (3.0, "b"), (4.0, 1), (5.0, True), (6.0, "b")]
    assert [type(m) for _, m in models][3:5] == [int, bool]
    assert monitor.store.series("x").metadata()[5] == {"model_name": "b", "operation": "chat"}
