"""to_dataframe and summary: pandas views of the store, per metric and per metadata value."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from export_data import Recorded

from genmon import GenerationMonitor
from genmon.exporters.frames import SUMMARY_STATS
from genmon.testing import ManualClock


def test_to_dataframe_has_one_row_per_point_with_aware_times_and_metadata(recorded: Recorded) -> None:
    """The long frame holds every point: metric, tz-aware timestamp at the recorded instant, value, metadata."""
    frame = recorded.monitor.to_dataframe()
    expected = [(n, v, ts, m or {}) for n, points in recorded.points.items() for v, ts, m in points]
    assert len(frame) == len(expected)
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    for row, (name, value, ts, metadata) in zip(frame.itertuples(index=False), expected):
        assert (row.metric, row.value) == (name, value)
        assert abs(row.timestamp.timestamp() - ts) <= 1e-6
        assert row.model_name == metadata.get("model_name") or (
            pd.isna(row.model_name) and "model_name" not in metadata
        )


def test_to_dataframe_filters_by_metric_and_window(recorded: Recorded) -> None:
    """metric= keeps one metric; window=timedelta(0) gives an empty frame with the base columns."""
    only = recorded.monitor.to_dataframe(metric="model_usage:gpt-4o")
    assert set(only["metric"]) == {"model_usage:gpt-4o"}
    assert len(only) == len(recorded.points["model_usage:gpt-4o"])
    empty = recorded.monitor.to_dataframe(window=timedelta(0))
    assert empty.empty and list(empty.columns) == ["metric", "timestamp", "value"]
    assert recorded.monitor.to_dataframe(metric="unknown").empty


def test_summary_matches_numpy_and_get_metrics(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """count, sum, mean, std, min, p50, p95, p99, max and last per metric agree with numpy and get_metrics."""
    clock = ManualClock(1.8e9)
    monitor = make_monitor(clock=clock, metric_handlers=[])
    values = np.random.default_rng(5).lognormal(0, 1, 300)
    for value in values.tolist():
        monitor.record_metric("latency", value)
    frame = monitor.summary()
    assert list(frame.columns) == list(SUMMARY_STATS)
    row = frame.loc["latency"]
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    expected = [300, values.sum(), values.mean(), values.std(), values.min(), p50, p95, p99, values.max(), values[-1]]
    assert row.tolist() == pytest.approx(expected)
    stats = monitor.get_metrics("latency", window=60)
    for key in ("mean", "std", "min", "max", "p50", "p95", "p99", "last"):
        assert row[key] == pytest.approx(stats[key])


def test_summary_by_metadata_key_breaks_down_per_model(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """by='model_name' gives one row per (metric, model), points without the key grouped under a missing label."""
    monitor = make_monitor(clock=ManualClock(1.8e9), metric_handlers=[])
    for i in range(30):
        monitor.track_generation(1.0 + i % 3, True, model_name="big" if i % 2 else "small", operation="chat")
    monitor.record_metric("generation_time", 100.0)
    frame = monitor.summary(by="model_name")
    big = frame.loc[("generation_time", "big")]
    assert big["count"] == 15
    assert big["mean"] == pytest.approx(np.mean([1.0 + i % 3 for i in range(30) if i % 2]))
    assert frame.loc[("generation_time", "small"), "count"] == 15
    unlabelled = frame.loc["generation_time"]
    assert unlabelled[unlabelled.index.isna()]["last"].tolist() == [100.0]
    two_keys = monitor.summary(by=["model_name", "operation"])
    assert two_keys.loc[("success_rate", "big", "chat"), "count"] == 15


def test_summary_of_a_window_and_of_nothing(recorded: Recorded) -> None:
    """window=timedelta(0) summarises nothing; a short window counts only the recent points."""
    assert recorded.monitor.summary(window=timedelta(0)).empty
    recent = recorded.monitor.summary(window=200)
    # Points 61.1 s apart, the clock 61.1 s past the last: 61, 122 and 183 s old fall in 200 s.
    assert int(recent["count"].sum()) == 3


def test_summary_refuses_an_unknown_by_key_with_the_keys_there_are(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """A misspelt by= key raises ValueError listing the recorded keys, instead of one group of None."""
    monitor = make_monitor(clock=ManualClock(1.8e9), metric_handlers=[])
    monitor.track_generation(1.0, True, model_name="big", operation="chat")
    with pytest.raises(ValueError, match=r"by='modle_name': no point has this metadata key; the keys recorded are: "):
        monitor.summary(by="modle_name")
    with pytest.raises(ValueError, match="model_name, operation"):
        monitor.summary(by=["model_name", "nope"])
    assert monitor.summary(window=0, by="anything").empty  # nothing to group: no error


def test_summary_by_call_kind_puts_model_calls_apart_from_wrappers(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """by='call_kind' labels call points 'model' or the wrapper's span type; other metrics' points None."""
    monitor = make_monitor(clock=ManualClock(1.8e9), metric_handlers=[])
    monitor.track_generation(0.2, True, model_name="big")
    monitor.track_generation(3.0, True, span_type="CHAIN")
    monitor.record_metric("judge_score", 0.9)
    frame = monitor.summary(by="call_kind")
    assert frame.loc[("generation_time", "model"), "sum"] == pytest.approx(0.2)
    assert frame.loc[("generation_time", "CHAIN"), "sum"] == pytest.approx(3.0)
    judge = frame.loc["judge_score"]
    assert judge.index.isna().all() and judge["count"].tolist() == [1]


def test_summary_wrapper_rows_never_take_a_recorded_metric_s_name(
    make_monitor: Callable[..., GenerationMonitor],
) -> None:
    """A metric recorded as 'generation_time [CHAIN]' keeps its row; the CHAIN wrappers' row is numbered instead."""
    monitor = make_monitor(clock=ManualClock(1.8e9), metric_handlers=[])
    monitor.track_generation(0.2, True, model_name="big")
    monitor.track_generation(3.0, True, span_type="chain")
    monitor.record_metric("generation_time [CHAIN]", 42.0)
    frame = monitor.summary()
    assert frame.index.is_unique
    assert frame.loc["generation_time", "sum"] == pytest.approx(0.2)
    assert frame.loc["generation_time [CHAIN]", "sum"] == 42.0
    assert frame.loc["generation_time [CHAIN #2]", "sum"] == pytest.approx(3.0)
