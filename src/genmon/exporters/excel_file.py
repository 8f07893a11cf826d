"""Excel export: a summary sheet, then one sheet per metric (timestamp, value, its metadata keys).

Written with XlsxWriter in constant-memory mode (rows streamed to disk, about
twice as fast as openpyxl's write-only mode); any xlsx reader, openpyxl
included, reads the result.

- Excel cannot store a time zone: timestamps are naive local wall-clock
  datetimes, and the summary sheet's notes column says which UTC offset(s) apply.
- Sheet names are cleaned (no ``: / \\ ? * [ ]``, at most 31 characters) and
  unique ignoring case; the summary sheet maps each metric to its sheet(s).
- A metric with more rows than a sheet holds (1,048,576 with the header) is
  split across sheets ``name``, ``name.2``, ...
- Text cells a spreadsheet would run as a formula get a leading ``'``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genmon.exporters.columns import column_name, json_text, local_wall_micros, neutralise_text, offsets_note
from genmon.exporters.naming import SHEET_NAME_LIMIT, NameAllocator, sheet_base
from genmon.exporters.staging import StagedFiles, wrap_os_error
from genmon.monitor.store import SeriesData

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
SUMMARY_SHEET = "summary"
NOTES_COLUMN = "notes"
SUMMARY_COLUMNS = ("metric", "sheet", "points", "first_timestamp", "last_timestamp", "min", "mean", "max", "last")
_EXCEL_EPOCH_DAYS = 25569.0  # 1970-01-01 as an Excel serial day number
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss.000"


class ExcelExporter:
    """Writes an .xlsx workbook: ``summary`` then one sheet per metric.

    Args:
        max_rows_per_sheet: rows per sheet including the header (Excel's limit by default).

    Example:
        >>> ExcelExporter().format_name
        'excel'
    """

    format_name = "excel"

    def __init__(self, max_rows_per_sheet: int = EXCEL_MAX_ROWS) -> None:
        if not 2 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
            raise ValueError(f"max_rows_per_sheet must be in [2, {EXCEL_MAX_ROWS}], got {max_rows_per_sheet}")
        self.max_rows_per_sheet = max_rows_per_sheet

    def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
        """Write ``output_path`` atomically and return ``[output_path]``."""
        import xlsxwriter
        import xlsxwriter.exceptions

        output_path = Path(output_path)
        parts = self._plan(series)
        with StagedFiles() as staged:
            temporary = staged.path_for(output_path)
            workbook = xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "use_zip64": True})
            try:
                formats = {"datetime": workbook.add_format({"num_format": _DATETIME_FORMAT})}
                _write_summary(workbook, formats, parts, offsets_note([s.timestamps for s in series]))
                for part in parts:
                    write_metric_sheet(workbook, formats, part)
            except BaseException:
                _close_quietly(workbook)  # releases its per-sheet temporary files; the stage is discarded
                raise
            try:
                workbook.close()
            except (OSError, xlsxwriter.exceptions.XlsxWriterException) as exc:
                raise wrap_os_error(OSError(str(exc)), output_path) from exc
        return [output_path]

    def _plan(self, series_list: Sequence[SeriesData]) -> list[SheetPart]:
        """Which rows of which metric go to which sheet."""
        allocator = NameAllocator(SHEET_NAME_LIMIT, reserved=(SUMMARY_SHEET, "History"))
        rows = self.max_rows_per_sheet - 1
        parts = []
        for series in series_list:
            base = sheet_base(series.name)
            for number, start in enumerate(range(0, len(series), rows), start=1):
                name = allocator.allocate(base if number == 1 else f"{base[: SHEET_NAME_LIMIT - 6]}.{number}")
                parts.append(SheetPart(series, name, start, min(start + rows, len(series))))
        return parts


class SheetPart:
    """Rows [start, end) of one metric, written to one sheet."""

    def __init__(self, series: SeriesData, sheet: str, start: int, end: int) -> None:
        self.series = series
        self.sheet = sheet
        self.start = start
        self.end = end

    def serials(self) -> np.ndarray:
        """Excel serial day numbers of the local wall-clock times."""
        wall, _ = local_wall_micros(self.series.timestamps[self.start : self.end])
        return wall / 86_400e6 + _EXCEL_EPOCH_DAYS


def write_metric_sheet(workbook: Any, formats: dict[str, Any], part: SheetPart) -> None:
    """One sheet: header, then timestamp, value and metadata cells row by row."""
    series = part.series
    sheet = workbook.add_worksheet(part.sheet)
    keys = series.metadata_keys()
    sheet.write_row(0, 0, ["timestamp", "value", *(column_name(k) for k in keys)])
    sheet.set_column(0, 0, 24)
    sheet.freeze_panes(1, 0)
    cells = _cells_by_code(sheet, series.metadata_table, keys)
    write_number = sheet.write_number
    stamp_format = formats["datetime"]
    serials = part.serials().tolist()
    values = series.values[part.start : part.end].tolist()
    codes = series.codes[part.start : part.end].tolist()
    for row, (serial, value, code) in enumerate(zip(serials, values, codes), start=1):
        write_number(row, 0, serial, stamp_format)
        write_number(row, 1, value)
        for col, write, cell in cells[code]:
            write(row, col, cell)


def _cells_by_code(sheet: Any, table: Sequence[dict[str, Any] | None], keys: list[str]) -> list[list[tuple[Any, ...]]]:
    """For each metadata code, the (column, writer, value) of its non-empty cells."""
    columns = {key: 2 + i for i, key in enumerate(keys)}
    out: list[list[tuple[Any, ...]]] = []
    for entry in table:
        cells = []
        for key, value in (entry or {}).items():
            if value is not None and key in columns:
                write, cell = _typed_cell(sheet, value)
                cells.append((columns[key], write, cell))
        out.append(cells)
    return out


def _typed_cell(sheet: Any, value: Any) -> tuple[Callable[..., Any], Any]:
    if isinstance(value, bool):
        return sheet.write_boolean, value
    if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) < 1e308:
        return sheet.write_number, value
    text = value if isinstance(value, str) else json_text(value)
    return sheet.write_string, neutralise_text(text)[:EXCEL_MAX_TEXT]


def _write_summary(workbook: Any, formats: dict[str, Any], parts: list[SheetPart], zone: str) -> None:
    sheet = workbook.add_worksheet(SUMMARY_SHEET)
    # The notes sit in their own column right of the table, so pandas.read_excel reads the table as is.
    notes = [
        f"Timestamps are local wall-clock time ({zone}) without a time zone: Excel cannot store one.",
        "Text cells starting with = + - @ tab or carriage return are prefixed with '.",
        (
            "Metric names are cleaned into sheet names (no : / \\ ? * [ ], at most 31 characters); "
            "columns metric and sheet map one to the other."
        ),
    ]
    sheet.write_row(0, 0, [*SUMMARY_COLUMNS, "", NOTES_COLUMN])
    sheet.set_column(0, 1, 32)
    sheet.set_column(3, 4, 24)
    rows: dict[int, list[tuple[int, str, Any, Any]]] = {}
    for row, part in enumerate(parts, start=1):
        rows[row] = _summary_cells(part, formats)
    for row, note in enumerate(notes, start=1):
        rows.setdefault(row, []).append((len(SUMMARY_COLUMNS) + 1, "string", note, None))
    # constant_memory mode needs rows in order.
    for row in sorted(rows):
        for col, kind, value, cell_format in rows[row]:
            getattr(sheet, f"write_{kind}")(row, col, value, cell_format)


def _summary_cells(part: SheetPart, formats: dict[str, Any]) -> list[tuple[int, str, Any, Any]]:
    values = part.series.values[part.start : part.end]
    first, last = part.serials()[[0, -1]].tolist()
    cells: list[tuple[int, str, Any, Any]] = [
        (0, "string", neutralise_text(part.series.name)[:EXCEL_MAX_TEXT], None),
        (1, "string", part.sheet, None),
        (2, "number", part.end - part.start, None),
        (3, "number", first, formats["datetime"]),
        (4, "number", last, formats["datetime"]),
    ]
    for col, stat in enumerate((values.min(), values.mean(), values.max(), values[-1]), start=5):
        cells.append((col, "number", float(stat), None))
    return cells


def _close_quietly(workbook: Any) -> None:
    # The error that interrupted the export is the one worth raising, not a failed close.
    with contextlib.suppress(Exception):
        workbook.close()
