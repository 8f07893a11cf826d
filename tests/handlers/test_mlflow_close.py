"""MlflowHandler finishes short runs with the default settings, never leaves a run RUNNING, refuses what it cannot open."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient

from genmon import GenerationMonitor, MissingExtraError
from genmon.handlers import _mlflow_support
from genmon.handlers.mlflow_handler import MlflowHandler
from genmon.testing import CapturingLogHandler

from .conftest import RecordingServer


def test_a_short_job_on_a_fresh_sqlite_store_with_default_settings_finishes(tmp_path: Path) -> None:
    """50 calls then shutdown() with every default: all metrics logged, artifacts uploaded, the run FINISHED.

    Creating a new sqlite store takes seconds (10-15 s on a loaded machine), more
    than the default 5 s shutdown_timeout: the handler's own close budget covers it.
    """
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    sink = MlflowHandler(uri, experiment_name="short", artifact_location=str(tmp_path / "artifacts"))
    monitor = GenerationMonitor(log_dir=tmp_path / "run", metric_handlers=[sink], metrics_interval=0)
    for i in range(50):
        monitor.track_generation(0.5 + i / 100, True, model_name="gpt-x", prompt_token_count=10 + i)
    monitor.shutdown()
    client = MlflowClient(uri)
    run = client.get_run(sink.run_id)
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(sink.run_id, "generation_time")) == 50
    artifacts = {a.path for a in client.list_artifacts(sink.run_id)}
    assert "metrics.parquet" in artifacts and "plots" in artifacts
    assert sink.stats()["dropped_total"] == 0


def test_a_close_that_cannot_finish_counts_the_loss_and_kills_the_run(tmp_path: Path, monkeypatch) -> None:
    """With no time to finish, the lost records are logged and counted, and the run ends KILLED, never RUNNING."""
    set_up = MlflowHandler._ensure_run

    def slow_set_up(self: MlflowHandler) -> None:
        time.sleep(2.0)  # a store slower to create than the whole close allows
        set_up(self)

    monkeypatch.setattr(MlflowHandler, "_ensure_run", slow_set_up)
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    sink = MlflowHandler(uri, experiment_name="cut", artifact_location=str(tmp_path / "artifacts"), close_budget=0.05)
    logs = CapturingLogHandler()
    monitor = GenerationMonitor(
        log_dir=tmp_path / "run", metric_handlers=[sink], log_handlers=[logs], metrics_interval=0, shutdown_timeout=1.0
    )
    for i in range(50):
        monitor.track_generation(0.5, True, model_name="gpt-x")
    assert monitor.close() is False  # the store is still being created
    # 50 calls of 4 metrics: one line, with the exact number (the sink's set-up and finish tasks are no records).
    reports = [m for m in logs.messages("error") if "at the close deadline" in m]
    assert len(reports) == 1
    assert "MlflowHandler: 200 records still buffered or in flight at the close deadline" in reports[0]
    join_threads("genmon-mlflow", 120)  # the set-up in flight ends; the handler then marks the run
    remote = sink.loss_stats()
    assert remote["received"] == 200 and remote["sent"] == 0 and remote["dropped"]["close_timeout"] == 200
    assert monitor.stats()["sinks"]["MlflowHandler"]["remote"]["dropped"]["close_timeout"] == 200
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("cut")
    assert experiment is not None
    assert [run.info.status for run in client.search_runs([experiment.experiment_id])] == ["KILLED"]


def test_records_a_hung_tracking_server_never_took_are_counted_in_monitor_stats_and_logged_with_their_number(
    http_server: RecordingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tracking server that never answers: when close() returns, the sink's 30 records are close_timeout in
    monitor.stats(), and one log line gives the number.

    A short close budget (0.5 s) leaves the sink the monitor's own 3 s: its lane
    gives up at 80% of it, while the request (the run's set-up) still hangs.
    """
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    http_server.hang.set()
    sink = MlflowHandler(f"http://127.0.0.1:{http_server.port}", experiment_name="hung", close_budget=0.5)
    logs = CapturingLogHandler()
    monitor = GenerationMonitor(
        log_dir=tmp_path / "run", metric_handlers=[sink], log_handlers=[logs], metrics_interval=0, shutdown_timeout=3.0
    )
    for i in range(30):
        monitor.record_metric("latency", float(i))
    assert monitor.flush(timeout=0.1) is False  # the sink's flush sends its buffer: the set-up and the 30 points
    assert http_server.entered.wait(30)  # ... in one request, which hangs
    assert monitor.close() is False
    sink_stats = monitor.stats()["sinks"]["MlflowHandler"]
    assert sink_stats["remote"]["dropped"]["close_timeout"] == 30
    assert sink_stats["remote"]["in_flight"] == sink_stats["remote"]["sent"] == 0
    reports = [m for m in logs.messages("error") if "at the close deadline" in m]
    assert len(reports) == 1 and "MlflowHandler: 30 records still buffered or in flight" in reports[0]
    http_server.release.set()  # the request ends; its records stay counted once
    join_threads("genmon-mlflow", 60)
    assert sink.loss_stats()["dropped"]["close_timeout"] == 30 and sink.loss_stats()["sent"] == 0


def join_threads(prefix: str, timeout_s: float) -> None:
    """Join every thread named ``prefix*``, including ones a closing sink starts while we wait."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = [t for t in threading.enumerate() if t.name.startswith(prefix)]
        if not alive:
            return
        for thread in alive:
            thread.join(max(deadline - time.monotonic(), 0.0))


def test_a_local_store_without_the_full_mlflow_package_fails_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    """With only mlflow-skinny (genmon[mlflow]), a sqlite:, file or default store is refused naming `pip install mlflow`."""
    monkeypatch.setattr(_mlflow_support, "full_mlflow_installed", lambda: False)
    for uri in ("sqlite:///mlflow.db", "file:///tmp/mlruns", "./mlruns", None):
        with pytest.raises(MissingExtraError, match="pip install mlflow"):
            MlflowHandler(uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    sink = MlflowHandler("http://127.0.0.1:1", max_retries=0)  # a tracking server needs only mlflow-skinny
    sink.close(30)
    join_threads("genmon-mlflow", 60)
