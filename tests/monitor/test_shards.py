"""Runs spread over processes: a shard per process, forked children start clean, reports merge exactly once."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path

from genmon import GenerationMonitor
from genmon.cli.run_files import load_runs

POINTS_PER_TASK = 500
TASKS = 16

_monitor: GenerationMonitor | None = None


def run_in_child(body: Callable[[], bool]) -> int:
    """Fork; the child runs ``body`` and exits 0 when it returned True. Returns the child's pid."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 4
        try:
            code = 0 if body() else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pid


def _work(task: int) -> int:
    # Runs in a pool worker forked from the test process: the inherited
    # monitor has become a shard of its own.
    assert _monitor is not None
    for i in range(POINTS_PER_TASK):
        _monitor.record_metric("work", float(task * POINTS_PER_TASK + i), {"task": task})
    _monitor.log_info("task done", task=task)
    return os.getpid()


def test_a_pool_of_four_workers_writes_every_point_exactly_once(tmp_path: Path) -> None:
    """4 forked pool workers shard automatically; the merged report holds every point once, none of the parent's backlog."""
    global _monitor
    _monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, shutdown_timeout=30, run_name="pool-job")
    try:
        _monitor.record_metric("parent", 1.0)  # queued in the parent before the fork: must not be copied
        context = multiprocessing.get_context("fork")
        pool = context.Pool(4)
        pids = set(pool.map(_work, range(TASKS)))
        pool.close()
        pool.join()  # workers leave through multiprocessing's exit hook, which closes their monitor
    finally:
        _monitor.close()
        _monitor = None
    shard_files = sorted(p.name for p in tmp_path.glob("metrics-*.jsonl"))
    assert len(shard_files) == len(pids) <= 4
    # Each forked worker says which run it belongs to (idle ones too), so the report knows its shards are one run.
    run_files = {p.name for p in tmp_path.glob("run-*.json")}
    assert {f"run-{f[8:-6]}.json" for f in shard_files} <= run_files and len(run_files) <= 4
    parent_lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["metric"] for line in parent_lines] == ["parent"]  # children never wrote the parent's file
    run = load_runs([tmp_path])
    work = run.store.series("work")
    assert work is not None
    assert sorted(work.values.tolist()) == list(map(float, range(TASKS * POINTS_PER_TASK)))
    assert run.store.count("parent") == 1
    assert sum(1 for r in run.logs if r["message"] == "task done") == TASKS
    # genmon report merges the shards into one view: its Parquet export holds each point once.
    import pyarrow.parquet as pq

    from genmon.cli.main import main

    assert main(["report", str(tmp_path), "--out", str(tmp_path / "report")]) == 0
    table = pq.read_table(tmp_path / "report" / "exports" / "metrics.parquet").to_pandas()
    work_values = sorted(table[table["metric"] == "work"]["value"].tolist())
    assert work_values == list(map(float, range(TASKS * POINTS_PER_TASK)))


def test_shard_true_names_the_files_after_host_and_pid(tmp_path: Path) -> None:
    """shard=True writes metrics-<host>-<pid>.jsonl (and log, spans) so machines can share a directory."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0, shard=True) as monitor:
        monitor.record_metric("x", 1.0)
        monitor.log_info("hi")
        with monitor.track("call"):
            pass
        shard = monitor.shard
    assert shard is not None and shard.endswith(f"-{os.getpid()}")
    assert {p.name for p in tmp_path.iterdir()} >= {
        f"metrics-{shard}.jsonl",
        f"genmon-{shard}.log",
        f"spans-{shard}.jsonl",
    }
    assert not (tmp_path / "metrics.jsonl").exists()
    assert load_runs([tmp_path]).store.count("x") == 1


def test_a_plain_forked_child_writes_its_own_shard(tmp_path: Path) -> None:
    """os.fork() without multiprocessing: the child's points land in its shard file, at its exit."""
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0)
    try:
        monitor.record_metric("before", 1.0)

        def child() -> bool:
            monitor.record_metric("child", 2.0)
            return monitor.close(10)

        pid = run_in_child(child)
    finally:
        monitor.close()
    child_file = tmp_path / f"metrics-{os.uname().nodename}-{pid}.jsonl"
    assert [json.loads(line)["metric"] for line in child_file.read_text().splitlines()] == ["child"]
    assert [json.loads(line)["metric"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == ["before"]


class _Gate:
    """An inline sink that holds the metric worker until its event is set (so records stay queued)."""

    runs_inline = True

    def __init__(self) -> None:
        import threading

        self.entered = threading.Event()
        self.released = threading.Event()

    def handle_batch(self, points: list) -> None:
        self.entered.set()
        self.released.wait(30)


def test_a_forked_child_never_resends_the_parents_backlog(tmp_path: Path) -> None:
    """Points still queued in the parent at fork time are written once, by the parent, never by the child."""
    from genmon import FileMetricHandler

    gate = _Gate()
    monitor = GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[gate, FileMetricHandler(tmp_path)], metrics_interval=0
    )
    try:
        monitor.record_metric("first", 0.0)
        assert gate.entered.wait(10)
        for i in range(100):
            monitor.record_metric("backlog", float(i))  # queued behind the stalled worker

        def child() -> bool:
            gate.released.set()  # the child's copy of the gate
            monitor.record_metric("child", 1.0)
            return monitor.close(10)

        pid = run_in_child(child)
        gate.released.set()
    finally:
        gate.released.set()
        monitor.close()
    child_file = tmp_path / f"metrics-{os.uname().nodename}-{pid}.jsonl"
    assert [json.loads(line)["metric"] for line in child_file.read_text().splitlines()] == ["child"]
    run = load_runs([tmp_path])
    assert run.store.count("backlog") == 100 and run.store.count("child") == 1


def test_a_forked_child_gets_its_own_http_sink(tmp_path: Path) -> None:
    """A remote sink's thread is not in a forked child: the child posts through a fresh copy of the sink."""
    import http.server
    import threading

    from genmon.handlers import HttpHandler

    bodies: list[bytes] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    serving = threading.Thread(target=server.serve_forever, name="test-http")
    serving.start()
    sink = HttpHandler(f"http://127.0.0.1:{server.server_address[1]}/ingest", flush_interval=0.05)
    monitor = GenerationMonitor(log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0)
    try:
        monitor.record_metric("from_parent", 1.0)
        assert monitor.flush(10)

        def child() -> bool:
            monitor.record_metric("from_child", 2.0)
            return monitor.close(10)

        run_in_child(child)
    finally:
        monitor.close()
        server.shutdown()
        server.server_close()
        serving.join(10)
    text = b"".join(bodies).decode()
    assert text.count('"from_child"') == 1 and text.count('"from_parent"') == 1
