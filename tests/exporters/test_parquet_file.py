"""Parquet export: one long table with a tz-aware timestamp and typed metadata columns."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from export_data import Recorded

from genmon.exporters.parquet_file import ParquetExporter


def test_long_table_reads_back_with_instants_values_and_typed_metadata(recorded: Recorded, tmp_path: Path) -> None:
    """pyarrow reads metric, a tz-aware timestamp equal to each instant, the value and native-typed metadata."""
    path = tmp_path / "run.parquet"
    assert recorded.monitor.export_metrics(path, format="parquet") == [path]
    table = pq.read_table(path)
    schema = table.schema
    assert schema.field("timestamp").type.tz is not None
    assert schema.field("value").type == pa.float64()
    assert schema.field("attempt").type == pa.int64()
    assert schema.field("cached").type == pa.bool_()
    assert schema.field("score").type == pa.float64()
    assert schema.field("tags").type == pa.string()
    rows = table.to_pylist()
    expected = [(n, v, ts, m or {}) for n, points in recorded.points.items() for v, ts, m in points]
    assert len(rows) == len(expected)
    keys = [c for c in table.column_names if c not in ("metric", "timestamp", "value")]
    for row, (name, value, ts, metadata) in zip(rows, expected):
        assert row["metric"] == name  # no formula guard in a binary format
        assert row["value"] == value
        assert abs(row["timestamp"].timestamp() - ts) <= 1e-6
        stored = {k: row[k] for k in keys if row[k] is not None}
        assert stored == {
            k: json.dumps(v, separators=(",", ":")) if isinstance(v, list) else v for k, v in metadata.items()
        }


def test_pandas_reads_local_aware_timestamps(recorded: Recorded, tmp_path: Path) -> None:
    """pandas.read_parquet gives tz-aware timestamps whose UTC offsets are the local ones across DST."""
    path = tmp_path / "run.parquet"
    recorded.monitor.export_metrics(path, format="parquet")
    frame = pd.read_parquet(path)
    offsets = {stamp.utcoffset().total_seconds() for stamp in frame["timestamp"]}
    assert offsets == {3600.0, 7200.0}


def test_an_empty_snapshot_writes_the_base_columns(tmp_path: Path) -> None:
    """No points: a valid Parquet file with metric, timestamp and value and no row."""
    path = tmp_path / "empty.parquet"
    ParquetExporter().export([], path)
    table = pq.read_table(path)
    assert table.column_names == ["metric", "timestamp", "value"] and table.num_rows == 0
