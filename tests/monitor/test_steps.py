"""Steps: record_metric/record_metrics/track take step=, files keep it, exports get a step column."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genmon import GenerationMonitor
from genmon.records.steps import point_step
from genmon.testing import ManualClock

Make = Callable[..., GenerationMonitor]


def lines(monitor: GenerationMonitor) -> list[dict[str, Any]]:
    monitor.close()
    return [json.loads(line) for line in (monitor.log_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_step_travels_with_the_point_and_no_step_leaves_the_line_as_afterimage_wrote_it(
    make_monitor: Make, clock: ManualClock
) -> None:
    """step= adds "step" to the point's line; without it the line has afterimage's keys only, byte for byte."""
    monitor = make_monitor(clock=clock)
    monitor.record_metric("loss", 0.5)
    monitor.record_metric("loss", 0.4, step=1)
    monitor.record_metric("loss", 0.3, {"phase": "train"}, step=2)
    monitor.close()
    raw = (monitor.log_dir / "metrics.jsonl").read_text().splitlines()
    assert raw[0] == '{"metric":"loss","value":0.5,"timestamp":"' + json.loads(raw[0])["timestamp"] + '"}'
    parsed = [json.loads(line) for line in raw[1:3]]
    assert [(p["value"], p["step"], p.get("phase")) for p in parsed] == [(0.4, 1, None), (0.3, 2, "train")]
    assert list(parsed[1]) == ["metric", "value", "phase", "step", "timestamp"]


def test_steps_are_checked_at_the_call_and_nothing_is_recorded_on_error(make_monitor: Make) -> None:
    """A step must be a whole number from 0 to 2**63-1 and agree with metadata['step']; a bad one records nothing."""
    monitor = make_monitor()
    for bad, error in ((-1, ValueError), (2**63, ValueError), ("3", TypeError), (True, TypeError), (1.0, TypeError)):
        with pytest.raises(error, match="step"):
            monitor.record_metric("loss", 0.1, step=bad)
    with pytest.raises(ValueError, match=r"step=3 and metadata\['step'\]=4 disagree"):
        monitor.record_metric("loss", 0.1, {"step": 4}, step=3)
    with pytest.raises(ValueError, match="step"):
        monitor.record_metrics({"a": 1.0, "b": 2.0}, step=-2)
    with pytest.raises(ValueError, match="step"):
        monitor.track("chat", step=-1)
    monitor.record_metric("loss", 0.1, {"step": 3}, step=np.int64(3))  # type: ignore[arg-type]  # numpy ints are steps
    monitor.sync_store()
    series = monitor.store.series("loss")
    assert series is not None and len(series) == 1 and series.metadata() == [{"step": 3}]
    assert monitor.store.series("a") is None


def test_record_metrics_and_track_take_a_step(make_monitor: Make) -> None:
    """record_metrics(step=) steps every point; track(step=) steps the call's points and its span, sync and async."""
    monitor = make_monitor()
    monitor.record_metrics({"reward": 0.7, "accuracy": 0.9}, {"split": "val"}, step=5)

    @monitor.track("judge", span_type="EVALUATOR", step=6)
    def judge() -> float:
        return 1.0

    async def run() -> None:
        async with monitor.track("judge", span_type="EVALUATOR", step=7):
            await asyncio.sleep(0)

    judge()
    asyncio.run(run())
    monitor.sync_store()
    for name in ("reward", "accuracy"):
        series = monitor.store.series(name)
        assert series is not None and series.metadata() == [{"split": "val", "step": 5}]
    times = monitor.store.series("generation_time")
    assert times is not None and [point_step(m) for m in times.metadata()] == [6, 7]
    assert sorted(span.metadata["step"] for span in monitor.get_spans() if span.metadata) == [6, 7]


def test_threads_record_their_own_steps(make_monitor: Make) -> None:
    """Four threads each recording 250 steps: every (thread, step) pair arrives once."""
    monitor = make_monitor()

    def loop(worker: int) -> None:
        for step in range(250):
            monitor.record_metric("loss", float(step), {"worker": worker}, step=step)

    threads = [threading.Thread(target=loop, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    monitor.sync_store()
    series = monitor.store.series("loss")
    assert series is not None
    pairs = sorted((m["worker"], m["step"]) for m in series.metadata())
    assert pairs == [(worker, step) for worker in range(4) for step in range(250)]


def test_exports_have_a_step_column_when_points_have_steps(make_monitor: Make, tmp_path: Any) -> None:
    """The DataFrame, Parquet and CSV exports carry step as an integer column; points without a step have none."""
    monitor = make_monitor()
    for step in range(3):
        monitor.record_metric("loss", 1.0 / (step + 1), step=step)
    monitor.record_metric("latency", 0.2)
    monitor.flush()
    frame = monitor.to_dataframe("loss")
    assert frame["step"].tolist() == [0, 1, 2]
    parquet = monitor.export_metrics(tmp_path / "out.parquet", format="parquet")[0]
    assert pq.read_schema(parquet).field("step").type == pa.int64()
    table = pd.read_parquet(parquet)
    assert table.loc[table["metric"] == "loss", "step"].tolist() == [0, 1, 2]
    assert table.loc[table["metric"] == "latency", "step"].isna().all()
    monitor.export_metrics(tmp_path / "out.csv", format="csv")
    csv = pd.read_csv(tmp_path / "out.csv")
    assert csv.loc[csv["metric"] == "loss", "step"].tolist() == [0, 1, 2]


def test_point_step_reads_only_whole_numbers() -> None:
    """A label such as "warmup" under metadata['step'] is no step; bools are not steps either."""
    assert point_step({"step": 4}) == 4
    assert point_step(None) is None
    for label in ("warmup", True, 1.5, -1, None):
        assert point_step({"step": label}) is None
