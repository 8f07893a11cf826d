"""Spans as a table: spans_to_dataframe() and the spans file beside the Parquet export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from genmon import GenerationMonitor
from genmon.testing import ManualClock


def tracked(monitor: GenerationMonitor) -> None:
    with monitor.track("generate", span_type="CHAIN"):
        with monitor.track("complete", model_name="gpt-4o") as span:
            span.set_usage(prompt_tokens=120, completion_tokens=30)
        try:
            with monitor.track("complete", model_name="gpt-4o"):
                raise TimeoutError("slow")
        except TimeoutError:
            pass


def test_spans_to_dataframe_has_one_row_per_tracked_call(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """Each span is a row with its ids, type, model-call flag, aware times, tokens and error; no sync needed."""
    monitor = make_monitor(clock=ManualClock(1_800_000_000.0), metric_handlers=[])
    tracked(monitor)
    frame = monitor.spans_to_dataframe()
    assert frame["name"].tolist() == ["complete", "complete", "generate"]  # in the order they finished
    assert frame["model_call"].tolist() == [True, True, False]
    root = frame.loc[frame["name"] == "generate"].iloc[0]
    assert pd.isna(root["parent_call_id"]) and set(frame["parent_call_id"][:2]) == {root["call_id"]}
    assert isinstance(frame["start"].dtype, pd.DatetimeTZDtype) and (frame["end"] >= frame["start"]).all()
    assert frame["total_tokens"].tolist()[:1] == [150] and pd.isna(frame["total_tokens"][1])
    assert frame["success"].tolist() == [True, False, True] and frame["exception_type"][1] == "TimeoutError"
    assert frame["metadata"].tolist() == ["{}", "{}", "{}"]


def test_the_parquet_export_writes_the_spans_beside_the_points(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """export_metrics(format='parquet') also writes <stem>_spans.parquet; other formats write no spans file."""
    monitor = make_monitor(clock=ManualClock(1_800_000_000.0), metric_handlers=[])
    tracked(monitor)
    written = monitor.export_metrics(tmp_path / "out" / "metrics.parquet", format="parquet")
    assert [p.name for p in written] == ["metrics.parquet", "metrics_spans.parquet"]
    spans = pq.read_table(written[1]).to_pandas()
    assert spans["name"].tolist() == ["complete", "complete", "generate"]
    assert pq.read_table(written[0]).num_rows > 0
    assert [p.name for p in monitor.export_metrics(tmp_path / "out" / "m.json", format="json")] == ["m.json"]


def test_a_run_without_spans_writes_no_spans_file(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """Points only: the Parquet export is the one file it always was."""
    monitor = make_monitor(metric_handlers=[])
    monitor.record_metric("latency", 0.5)
    assert monitor.export_metrics(tmp_path / "m.parquet", format="parquet") == [tmp_path / "m.parquet"]


def test_captured_inputs_and_outputs_are_json_text_columns(make_monitor: Callable[..., GenerationMonitor]) -> None:
    """inputs and outputs are JSON text where captured and null elsewhere."""
    monitor = make_monitor(metric_handlers=[], capture_io=True)
    monitor.track("double")(lambda n: {"n": 2 * n})(4)
    with monitor.track("plain", capture_io=False):
        pass
    frame = monitor.spans_to_dataframe()
    assert frame["inputs"].tolist()[0] == '{"n":4}' and frame["outputs"].tolist()[0] == '{"n":8}'
    assert pd.isna(frame["inputs"][1]) and pd.isna(frame["outputs"][1])
