"""JSON export: afterimage's {metric: [points]} layout with metadata keys and local ISO times."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from export_data import Recorded

from genmon.exporters.json_file import JsonExporter
from genmon.monitor.store.metric_store import MetricStore
from genmon.records.timefmt import IsoFormatter


def test_every_point_reads_back_with_its_value_time_and_metadata(recorded: Recorded, tmp_path: Path) -> None:
    """json.load of the export gives, per metric, every recorded point: exact value, ISO time, metadata keys."""
    path = tmp_path / "out" / "metrics.json"
    assert recorded.monitor.export_metrics(path) == [path]
    document = json.loads(path.read_bytes())
    assert list(document) == list(recorded.points)
    iso = IsoFormatter()
    for name, points in recorded.points.items():
        exported = document[name]
        assert len(exported) == len(points)
        for point, (value, ts, metadata) in zip(exported, points):
            assert point["value"] == value
            assert point["timestamp"] == iso(ts)
            assert abs(datetime.fromisoformat(point["timestamp"]).timestamp() - ts) <= 1e-6
            assert {k: v for k, v in point.items() if k not in ("timestamp", "value")} == (metadata or {})


def test_timestamps_carry_the_offset_in_force_on_each_side_of_a_dst_change(recorded: Recorded, tmp_path: Path) -> None:
    """Points before the spring change end in +01:00 and points after it in +02:00."""
    path = tmp_path / "metrics.json"
    recorded.monitor.export_metrics(path, format="json")
    offsets = {p["timestamp"][-6:] for points in json.loads(path.read_bytes()).values() for p in points}
    assert offsets == {"+01:00", "+02:00"}


def test_floats_round_trip_exactly_and_integral_values_stay_numbers(tmp_path: Path) -> None:
    """Values written by the exporter parse back to the identical float, whole numbers included."""
    values = [0.1, 1.0, -0.0, 1e20, 1e-7, 123456789.123456789, 2.0**53, 5e-324, 1.7976931348623157e308]
    store = MetricStore()
    store.append_batch([("v", value, 1.7e9 + i, None) for i, value in enumerate(values)])
    path = tmp_path / "v.json"
    JsonExporter().export(store.snapshot(), path)
    assert [p["value"] for p in json.loads(path.read_bytes())["v"]] == values


def test_large_series_are_written_in_chunks_without_losing_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A series longer than one formatting chunk comes out whole and in order."""
    from genmon.exporters import json_file

    monkeypatch.setattr(json_file, "CHUNK_POINTS", 7)
    store = MetricStore()
    store.append_batch([("n", float(i), 1.7e9 + i, {"i": i} if i % 3 else None) for i in range(50)])
    path = tmp_path / "n.json"
    JsonExporter().export(store.snapshot(), path)
    points = json.loads(path.read_bytes())["n"]
    assert [p["value"] for p in points] == [float(i) for i in range(50)]
    assert [p.get("i") for p in points] == [i if i % 3 else None for i in range(50)]


def test_an_empty_store_exports_an_empty_object(tmp_path: Path) -> None:
    """With no points the file holds {}."""
    path = tmp_path / "empty.json"
    JsonExporter().export([], path)
    assert json.loads(path.read_bytes()) == {}
