"""The exporter registry and what export_metrics promises for every format: windows, paths, atomicity."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from genmon import GenerationMonitor
from genmon.exporters import Exporter, ExportError, formats, get_exporter, register_exporter
from genmon.exporters import base as exporter_base
from genmon.monitor.store.series_data import SeriesData
from genmon.testing import ManualClock

ALL_FORMATS = ("json", "csv", "excel", "xlsx", "parquet")


@pytest.fixture
def monitor(make_monitor: Callable[..., GenerationMonitor]) -> GenerationMonitor:
    """A monitor with points 120 s ago, 30 s ago and now (its manual clock's time)."""
    clock = ManualClock(1.8e9)
    made = make_monitor(clock=clock, metric_handlers=[])
    for value, at in ((1.0, 0.0), (2.0, 90.0), (3.0, 120.0)):
        clock.set(1.8e9 + at)
        made.record_metric("latency", value)
    return made


def exported_values(path: Path) -> list[float]:
    return [p["value"] for p in json.loads(path.read_bytes()).get("latency", [])]


def test_unknown_format_raises_value_error_listing_the_formats(monitor: GenerationMonitor, tmp_path: Path) -> None:
    """An unsupported format names every available one and writes nothing."""
    with pytest.raises(ValueError) as caught:
        monitor.export_metrics(tmp_path / "x.yaml", format="yaml")
    for name in ALL_FORMATS:
        assert name in str(caught.value)
    assert not (tmp_path / "x.yaml").exists()


def test_format_names_are_case_insensitive_and_xlsx_is_excel() -> None:
    """'JSON' finds the JSON exporter and 'xlsx' the Excel one."""
    assert get_exporter("JSON").format_name == "json"
    assert get_exporter("xlsx").format_name == "excel"
    assert set(formats()) == set(ALL_FORMATS)


def test_window_zero_is_empty_a_number_is_seconds_and_none_is_everything(
    monitor: GenerationMonitor, tmp_path: Path
) -> None:
    """timedelta(0) exports no point, window=60 the last minute's, None all of them."""
    cases = {"zero": timedelta(0), "minute": 60, "minute_td": timedelta(seconds=60), "all": None}
    for label, window in cases.items():
        monitor.export_metrics(tmp_path / f"{label}.json", window=window)
    assert exported_values(tmp_path / "zero.json") == []
    assert exported_values(tmp_path / "minute.json") == [2.0, 3.0]
    assert exported_values(tmp_path / "minute_td.json") == [2.0, 3.0]
    assert exported_values(tmp_path / "all.json") == [1.0, 2.0, 3.0]


def test_a_negative_window_is_refused(monitor: GenerationMonitor, tmp_path: Path) -> None:
    """window=-1 raises ValueError instead of exporting the future."""
    with pytest.raises(ValueError, match="window"):
        monitor.export_metrics(tmp_path / "x.json", window=-1)


@pytest.mark.parametrize("format_name", ALL_FORMATS)
def test_parent_directories_are_created_and_no_temporary_file_remains(
    monitor: GenerationMonitor, tmp_path: Path, format_name: str
) -> None:
    """Exporting to a missing directory creates it; only the export's own files end up there."""
    target = tmp_path / "a" / "b" / f"out.{format_name}"
    written = monitor.export_metrics(target, format=format_name)
    assert written[0] == target and target.stat().st_size > 0
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(p.name for p in written)


@pytest.mark.parametrize("format_name", ALL_FORMATS)
def test_an_unwritable_path_raises_an_error_naming_it(
    monitor: GenerationMonitor, tmp_path: Path, format_name: str
) -> None:
    """A path under a regular file cannot be written: ExportError (an OSError) names the requested path."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    target = blocker / f"out.{format_name}"
    with pytest.raises(ExportError) as caught:
        monitor.export_metrics(target, format=format_name)
    assert isinstance(caught.value, OSError)
    assert str(target) in str(caught.value) and caught.value.path == target


@pytest.mark.parametrize("format_name", ("json", "excel", "parquet"))
def test_a_failed_export_keeps_the_previous_file_intact(
    monitor: GenerationMonitor, tmp_path: Path, format_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If formatting fails part way, the file already at the path is left as it was and no temporary remains."""
    from genmon.exporters import excel_file, json_file, parquet_file

    target = tmp_path / f"out.{format_name}"
    target.write_bytes(b"previous export")

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("formatting failed")

    module, attribute = {
        "json": (json_file, "_points_text"),
        "excel": (excel_file, "write_metric_sheet"),
        "parquet": (parquet_file, "long_table"),
    }[format_name]
    monkeypatch.setattr(module, attribute, boom)
    with pytest.raises(RuntimeError, match="formatting failed"):
        monitor.export_metrics(target, format=format_name)
    assert target.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir() if p.name != "run0"] == [target.name]


def test_save_metrics_writes_a_timestamped_json_file_in_log_dir(monitor: GenerationMonitor) -> None:
    """save_metrics returns log_dir/metrics_<YYYYmmdd_HHMMSS>.json holding every point, as afterimage did."""
    path = monitor.save_metrics()
    assert path.parent == monitor.log_dir
    assert path.name.startswith("metrics_") and len(path.stem) == len("metrics_20270115_083000")
    assert exported_values(path) == [1.0, 2.0, 3.0]


def test_registered_exporters_are_used_by_export_metrics(monitor: GenerationMonitor, tmp_path: Path) -> None:
    """A format added with register_exporter receives the snapshot."""
    seen: list[list[str]] = []

    class NamesExporter:
        format_name = "names"

        def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
            seen.append([s.name for s in series])
            return [output_path]

    register_exporter("names", NamesExporter)
    try:
        assert isinstance(get_exporter("names"), Exporter)
        assert monitor.export_metrics(tmp_path / "n", format="names") == [tmp_path / "n"]
    finally:
        exporter_base._REGISTRY.pop("names")
    assert seen == [["latency"]]


def test_points_recorded_just_before_an_export_are_in_it(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path
) -> None:
    """export_metrics waits for queued points to reach the store, so a record followed by an export includes it."""
    monitor = make_monitor(metric_handlers=[])
    for i in range(500):
        monitor.record_metric("x", float(i))
    monitor.export_metrics(tmp_path / "x.json")
    assert len(json.loads((tmp_path / "x.json").read_bytes())["x"]) == 500
