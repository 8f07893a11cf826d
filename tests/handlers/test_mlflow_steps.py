"""Steps reach MLflow as metric steps: against the real `mlflow server`, read back with MlflowClient.get_metric_history."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mlflow")

from mlflow import MlflowClient

from genmon import GenerationMonitor, LoopCallback
from genmon.handlers.mlflow_handler import MlflowHandler
from genmon.testing import ManualClock


def test_an_explicit_step_wins_and_points_without_one_are_numbered(shared_mlflow_server: str, tmp_path: Path) -> None:
    """record_metric(step=n) is logged at step n; a metric recorded without steps keeps steps 0, 1, 2."""
    sink = MlflowHandler(shared_mlflow_server, experiment_name="steps", run_name="steps", log_artifacts=False)
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(
        log_dir=tmp_path, metric_handlers=[sink], log_handlers=[], metrics_interval=0, clock=clock
    ) as monitor:
        for step, loss in ((10, 0.9), (20, 0.5), (30, 0.2)):
            monitor.record_metric("loss", loss, step=step)
            monitor.record_metric("latency", loss * 2)
            clock.advance(1)
        # A Keras-style loop through the callback: epoch logs at their epoch.
        callback = LoopCallback(monitor, prefix="train/")
        for epoch in range(2):
            callback.on_epoch_end(epoch, {"reward": 0.5 + epoch / 10})
        assert monitor.close(timeout=60)
    assert sink.close(60)
    client = MlflowClient(shared_mlflow_server)
    loss = client.get_metric_history(sink.run_id, "loss")
    assert sorted((m.step, m.value) for m in loss) == [(10, 0.9), (20, 0.5), (30, 0.2)]
    latency = client.get_metric_history(sink.run_id, "latency")
    assert sorted(m.step for m in latency) == [0, 1, 2]
    reward = client.get_metric_history(sink.run_id, "train/reward")
    assert sorted((m.step, m.value) for m in reward) == [(0, 0.5), (1, 0.6)]
