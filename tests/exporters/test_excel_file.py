"""Excel export: a summary sheet plus one safely named sheet per metric, read back with openpyxl."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from export_data import Recorded, cell

from genmon import GenerationMonitor
from genmon.exporters import excel_file
from genmon.exporters.excel_file import ExcelExporter
from genmon.monitor.store.metric_store import MetricStore
from genmon.testing import ManualClock


def sheets_of(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {name: list(workbook[name].iter_rows(values_only=True)) for name in workbook.sheetnames}
    finally:
        workbook.close()


def summary_rows(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    header = [h for h in rows[0] if h]
    columns = header[: len(excel_file.SUMMARY_COLUMNS)]
    return [dict(zip(columns, row)) for row in rows[1:] if row[0] is not None]


def local_naive(ts: float) -> datetime:
    return datetime.fromtimestamp(ts)  # local wall-clock time, as the export writes it


def test_each_metric_sheet_reads_back_with_local_times_values_and_metadata(recorded: Recorded, tmp_path: Path) -> None:
    """Every metric's sheet holds its points: naive local time, exact value, typed and neutralised metadata."""
    path = tmp_path / "run.xlsx"
    assert recorded.monitor.export_metrics(path, format="excel") == [path]
    sheets = sheets_of(path)
    assert next(iter(sheets)) == "summary"
    # The summary's sheet column is formula-guarded like any text; sheet names never start with "'".
    mapping = {row["metric"]: row["sheet"].removeprefix("'") for row in summary_rows(sheets["summary"])}
    assert list(mapping) == [cell(name) for name in recorded.points]
    for name, points in recorded.points.items():
        rows = sheets[mapping[cell(name)]]
        header, body = rows[0], rows[1:]
        keys = list(header[2:])
        assert header[:2] == ("timestamp", "value")
        assert set(keys) == {k for _, _, m in points for k in (m or {})}
        assert len(body) == len(points)
        for row, (value, ts, metadata) in zip(body, points):
            assert abs((row[0] - local_naive(ts)).total_seconds()) < 1e-3
            assert row[1] == value
            assert dict(zip(keys, row[2:])) == {k: cell((metadata or {}).get(k)) for k in keys}


def test_sheet_names_are_valid_unique_and_mapped_in_the_summary(recorded: Recorded, tmp_path: Path) -> None:
    """Names with : / \\ ? * [ ], over 31 characters, or clashing once cleaned get distinct legal sheet names."""
    path = tmp_path / "run.xlsx"
    recorded.monitor.export_metrics(path, format="xlsx")
    sheets = sheets_of(path)
    names = list(sheets)[1:]
    assert len(names) == len(recorded.points)
    assert len({n.casefold() for n in names}) == len(names)
    assert "summary" not in {n.casefold() for n in names}
    for name in names:
        assert 1 <= len(name) <= 31 and not re.search(r"[:/\\?*\[\]]", name) and not name.endswith("'")
    summary = summary_rows(sheets["summary"])
    assert [row["sheet"] for row in summary] == [cell(name) for name in names]
    assert [row["points"] for row in summary] == [len(p) for p in recorded.points.values()]


def test_summary_notes_say_times_are_local_and_read_cleanly_with_pandas(recorded: Recorded, tmp_path: Path) -> None:
    """The summary sheet states the UTC offsets of the naive times; pandas reads its table columns as is."""
    path = tmp_path / "run.xlsx"
    recorded.monitor.export_metrics(path, format="excel")
    frame = pd.read_excel(path, sheet_name="summary")
    assert list(frame.columns[: len(excel_file.SUMMARY_COLUMNS)]) == list(excel_file.SUMMARY_COLUMNS)
    notes = " ".join(frame["notes"].dropna())
    assert "local wall-clock time (UTC+01:00/+02:00)" in notes and "cannot store" in notes
    generation = frame.set_index("metric").loc["generation_time"]
    values = [v for v, _, _ in recorded.points["generation_time"]]
    assert generation["points"] == len(values)
    assert generation["mean"] == pytest.approx(sum(values) / len(values))


def test_a_metric_longer_than_a_sheet_is_split_across_numbered_sheets(tmp_path: Path) -> None:
    """With 4 rows a sheet (header included), 10 points fill sheets name, name.2, name.3, name.4 in order."""
    store = MetricStore()
    store.append_batch([("model_usage:m", float(i), 1.7e9 + i, {"i": i}) for i in range(10)])
    path = tmp_path / "split.xlsx"
    ExcelExporter(max_rows_per_sheet=4).export(store.snapshot(), path)
    sheets = sheets_of(path)
    assert list(sheets) == ["summary", "model_usage_m", "model_usage_m.2", "model_usage_m.3", "model_usage_m.4"]
    values = [row[1] for name in list(sheets)[1:] for row in sheets[name][1:]]
    assert values == [float(i) for i in range(10)]
    assert [row["points"] for row in summary_rows(sheets["summary"])] == [3, 3, 3, 1]


def test_recording_continues_during_an_excel_export(
    make_monitor: Callable[..., GenerationMonitor], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points recorded from another thread reach the store while the export writes, and the file is consistent."""
    monitor = make_monitor(clock=ManualClock(1.7e9), metric_handlers=[])
    for i in range(2000):
        monitor.record_metric("steady", float(i))
    monitor.sync_store()
    stop = threading.Event()
    recorded = [0]

    def recorder() -> None:
        while not stop.is_set():
            monitor.record_metric("live", float(recorded[0]))
            recorded[0] += 1

    during_export: list[int] = []
    real_write = excel_file.write_metric_sheet

    def write_while_recording(*args: Any) -> None:
        # Wait, inside the export, until the store grows: the export holds no lock the worker needs.
        before = monitor.store.count()
        for _ in range(10_000):
            monitor.sync_store(timeout=10)
            if monitor.store.count() > before:
                break
        during_export.append(monitor.store.count() - before)
        real_write(*args)

    monkeypatch.setattr(excel_file, "write_metric_sheet", write_while_recording)
    thread = threading.Thread(target=recorder, name="test-recorder")
    monitor.record_metric("live", -1.0)
    monitor.sync_store()
    thread.start()
    try:
        path = tmp_path / "live.xlsx"
        monitor.export_metrics(path, format="excel")
    finally:
        stop.set()
        thread.join()
    assert during_export and all(grown > 0 for grown in during_export)
    sheets = sheets_of(path)
    assert [row[1] for row in sheets["steady"][1:]] == [float(i) for i in range(2000)]
    live = [row[1] for row in sheets["live"][1:]]
    # The snapshot is a consistent prefix of what was recorded, in order, without gaps.
    assert live == [-1.0] + [float(i) for i in range(len(live) - 1)]


def test_an_empty_snapshot_writes_a_summary_only_workbook(tmp_path: Path) -> None:
    """With no points the workbook has just the summary sheet, with its header."""
    path = tmp_path / "empty.xlsx"
    ExcelExporter().export([], path)
    sheets = sheets_of(path)
    assert list(sheets) == ["summary"]
    assert sheets["summary"][0][: len(excel_file.SUMMARY_COLUMNS)] == excel_file.SUMMARY_COLUMNS


def test_text_with_xml_and_control_characters_survives(tmp_path: Path) -> None:
    """& < > quotes, CR/LF, tabs, edge spaces and empty text read back unchanged; nan/inf become text."""
    texts = ["a & b <c> \"d\" 'e'", "line1\r\nline2", "in\tside", "  padded  ", "", "naïve ✓"]
    store = MetricStore()
    store.append_batch([("m", float(i), 1.7e9 + i, {"text": t}) for i, t in enumerate(texts)])
    store.append_batch([("m", 9.0, 1.7e9 + 9, {"text": float("nan")}), ("m", 10.0, 1.7e9 + 10, {"text": float("inf")})])
    path = tmp_path / "text.xlsx"
    ExcelExporter().export(store.snapshot(), path)
    column = [row[2] for row in sheets_of(path)["m"][1:]]
    assert column == [*texts, "nan", "inf"]


def test_the_package_opens_in_full_openpyxl_mode_with_frozen_header(recorded: Recorded, tmp_path: Path) -> None:
    """openpyxl's full (non read-only) loader accepts the workbook; metric sheets freeze their header row."""
    path = tmp_path / "run.xlsx"
    recorded.monitor.export_metrics(path, format="excel")
    workbook = openpyxl.load_workbook(path)
    try:
        sheet = workbook[workbook.sheetnames[1]]
        assert sheet.freeze_panes == "A2"
        assert sheet["A2"].number_format == excel_file.xlsx.DATETIME_FORMAT
        assert sheet["A1"].font.b
    finally:
        workbook.close()


def test_metadata_keys_that_look_like_formulas_are_guarded_in_headers(tmp_path: Path) -> None:
    """A metadata key such as '+cmd' becomes the header "'+cmd" on the metric's sheet."""
    store = MetricStore()
    store.append_batch([("m", 1.0, 1.7e9, {"+cmd": "x"})])
    ExcelExporter().export(store.snapshot(), tmp_path / "run.xlsx")
    assert sheets_of(tmp_path / "run.xlsx")["m"][0] == ("timestamp", "value", "'+cmd")


def test_names_with_characters_xml_cannot_hold_give_a_workbook_that_opens(tmp_path: Path) -> None:
    """A metric named with U+FFFE or U+FFFF gets a sheet name openpyxl can read; its summary row still maps it."""
    store = MetricStore()
    store.append_batch([("bad\ufffename", 1.0, 1_800_000_000.0, None), ("also\uffff", 2.0, 1_800_000_001.0, None)])
    path = tmp_path / "odd.xlsx"
    ExcelExporter().export(store.snapshot(), path)
    sheets = sheets_of(path)
    rows = summary_rows(sheets["summary"])
    assert [r["sheet"] for r in rows] == ["bad_name", "also_"]
    assert set(sheets) == {"summary", "bad_name", "also_"}


def test_the_summary_sheet_column_is_formula_guarded(tmp_path: Path) -> None:
    """A metric named like a formula: its sheet name cell in the summary gets the leading quote too."""
    store = MetricStore()
    store.append_batch([("=1+1", 1.0, 1_800_000_000.0, None)])
    path = tmp_path / "formula.xlsx"
    ExcelExporter().export(store.snapshot(), path)
    (row,) = summary_rows(sheets_of(path)["summary"])
    assert row["metric"] == "'=1+1" and row["sheet"] == "'=1+1"
