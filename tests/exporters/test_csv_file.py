"""CSV export: the combined long table, one file per metric, a manifest; formula guard; atomicity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from export_data import Recorded, cell

from genmon.exporters.base import ExportError
from genmon.exporters.csv_file import CsvExporter
from genmon.monitor.store.metric_store import MetricStore
from genmon.records.timefmt import IsoFormatter


def text(value: Any) -> str:
    """How a metadata value reads back from CSV as text."""
    value = cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def test_combined_file_holds_every_point_with_metadata(recorded: Recorded, tmp_path: Path) -> None:
    """The file at output_path has one row per point: metric, ISO time, exact value, metadata cells."""
    path = tmp_path / "export" / "run.csv"
    written = recorded.monitor.export_metrics(path, format="csv")
    assert written[0] == path
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    iso = IsoFormatter()
    expected_rows = []
    for name, points in recorded.points.items():
        for value, ts, metadata in points:
            expected_rows.append((cell(name), iso(ts), value, metadata or {}))
    assert len(frame) == len(expected_rows)
    meta_columns = [c for c in frame.columns if c not in ("metric", "timestamp", "value")]
    assert set(meta_columns) == {"model_name", "operation", "attempt", "cached", "tags", "score", "note", "route"}
    for (_, row), (name, stamp, value, metadata) in zip(frame.iterrows(), expected_rows):
        assert (row["metric"], row["timestamp"], float(row["value"])) == (name, stamp, value)
        assert {c: row[c] for c in meta_columns} == {c: text(metadata.get(c)) for c in meta_columns}


def test_numbers_stay_numbers_and_risky_text_is_neutralised(recorded: Recorded, tmp_path: Path) -> None:
    """Values and numeric metadata read back as numbers; text starting with = + - @ or tab gets a quote."""
    path = tmp_path / "run.csv"
    recorded.monitor.export_metrics(path, format="csv")
    frame = pd.read_csv(path)
    assert frame["value"].dtype == "float64"
    assert frame["attempt"].dtype == "float64" and set(frame["attempt"].dropna()) == {1.0, 2.0}
    assert frame["score"].dtype == "float64" and set(frame["score"].dropna()) == {0.25}
    assert set(frame["model_name"].dropna()) == {"gpt-4o", "gpt-4o-mini", "'-1+2", "'@cmd"}
    assert set(frame["operation"].dropna()) == {"chat", '\'=HYPERLINK("x")'}
    assert set(frame["route"].dropna()) == {"'\tleading tab"}
    assert set(frame["note"].dropna()) == {"tab\tinside"}
    assert "'=cmd" in set(frame["metric"])


def test_each_metric_has_its_own_safe_uniquely_named_file_listed_in_the_manifest(
    recorded: Recorded, tmp_path: Path
) -> None:
    """Per-metric files are named as afterimage named them (only / and NUL change), distinct ignoring case, and hold
    that metric's points and keys."""
    out = tmp_path / "export"
    path = out / "run.csv"
    written = recorded.monitor.export_metrics(path, format="csv")
    manifest = json.loads((out / "run_manifest.json").read_bytes())
    assert written[1] == out / "run_manifest.json"
    entries = manifest["metrics"]
    assert [e["metric"] for e in entries] == list(recorded.points)
    files = [e["file"] for e in entries]
    assert len({f.casefold() for f in files}) == len(files)
    assert sorted(p.name for p in out.iterdir()) == sorted(["run.csv", "run_manifest.json", *files])
    assert "+01:00/+02:00" in manifest["timestamps"]
    iso = IsoFormatter()
    for entry in entries:
        assert entry["file"].endswith(".csv") and "/" not in entry["file"] and "\x00" not in entry["file"]
        frame = pd.read_csv(out / entry["file"], dtype=str, keep_default_na=False)
        points = recorded.points[entry["metric"]]
        assert entry["points"] == len(frame) == len(points)
        assert frame["timestamp"].tolist() == [iso(ts) for _, ts, _ in points]
        assert [float(v) for v in frame["value"]] == [v for v, _, _ in points]
        keys = {k for _, _, m in points for k in (m or {})}
        assert set(frame.columns) == {"timestamp", "value", *keys} == set(entry["columns"])
        for key in keys:
            assert frame[key].tolist() == [text((m or {}).get(key)) for _, _, m in points]


def test_a_failing_export_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If writing the third file fails, neither the combined file nor any per-metric file nor a temporary remains."""
    import pyarrow.csv as pa_csv

    store = MetricStore()
    store.append_batch([(f"m{i}", 1.0, 1.7e9, None) for i in range(5)])
    calls = []
    real = pa_csv.write_csv

    def failing(table: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(table, target, *args, **kwargs)

    monkeypatch.setattr(pa_csv, "write_csv", failing)
    out = tmp_path / "out"
    with pytest.raises(ExportError, match="run.csv"):
        CsvExporter().export(store.snapshot(), out / "run.csv")
    assert len(calls) == 3
    assert list(out.iterdir()) == []


def test_an_empty_snapshot_writes_a_header_only_combined_file(tmp_path: Path) -> None:
    """No points: the combined file has only its header and the manifest lists no metric."""
    path = tmp_path / "empty.csv"
    CsvExporter().export([], path)
    assert path.read_text().strip() == '"metric","timestamp","value"'
    assert json.loads((tmp_path / "empty_manifest.json").read_bytes())["metrics"] == []


def test_metadata_keys_that_look_like_formulas_are_guarded_in_headers(tmp_path: Path) -> None:
    """A metadata key such as '=cmd' becomes the header "'=cmd" in CSV files and their manifest."""
    store = MetricStore()
    store.append_batch([("m", 1.0, 1.7e9, {"=cmd": "x", "ok": 1})])
    CsvExporter().export(store.snapshot(), tmp_path / "run.csv")
    assert list(pd.read_csv(tmp_path / "run.csv").columns) == ["metric", "timestamp", "value", "'=cmd", "ok"]
    assert list(pd.read_csv(tmp_path / "run_m.csv").columns) == ["timestamp", "value", "'=cmd", "ok"]
    manifest = json.loads((tmp_path / "run_manifest.json").read_bytes())
    assert manifest["metrics"][0]["columns"] == ["timestamp", "value", "'=cmd", "ok"]
