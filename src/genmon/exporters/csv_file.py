"""CSV export: one file per metric beside ``output_path``, the long table at ``output_path``, a manifest.

Files, for ``output_path = out/run.csv``:

- ``out/run.csv``: every point (metric, timestamp, value, one column per metadata key);
- ``out/run_<metric>.csv``: one metric's points (timestamp, value, its metadata keys), as afterimage
  wrote them, with the metric name made safe for a file name (see ``naming``);
- ``out/run_manifest.json``: which file holds which metric, the columns and the time zone note.

Timestamps are local ISO-8601 text with the UTC offset. Text cells that a
spreadsheet would run as a formula get a leading ``'``; numbers stay numbers.
Everything is staged and renamed only once all files are complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from genmon.exporters.columns import long_table, offsets_note
from genmon.exporters.naming import NameAllocator, file_part
from genmon.exporters.staging import StagedFiles, wrap_os_error
from genmon.monitor.store.series_data import SeriesData


class CsvExporter:
    """Writes the combined CSV, one CSV per metric and a JSON manifest.

    Example:
        >>> CsvExporter().format_name
        'csv'
    """

    format_name = "csv"

    def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
        """Write every file atomically; return the combined file, the manifest, then per-metric files."""
        import pyarrow.csv as pa_csv

        output_path = Path(output_path)
        data = long_table(series, timestamps="iso", neutralise=True)
        manifest_path = output_path.with_name(f"{output_path.stem}_manifest.json")
        # Unique ignoring case before the extension is added (a "~2" suffix must not follow ".csv").
        # file_part bounds the metric's part; the stem is the caller's and is not cut.
        allocator = NameAllocator(limit=100_000)
        metric_files = [
            output_path.with_name(allocator.allocate(f"{output_path.stem}_{file_part(name)}") + ".csv")
            for name in data.names
        ]
        manifest = _manifest(data, output_path, metric_files, series)
        with StagedFiles() as staged:
            try:
                pa_csv.write_csv(data.table, staged.path_for(output_path))
                for index, path in enumerate(metric_files):
                    pa_csv.write_csv(data.metric_table(index), staged.path_for(path))
                staged.path_for(manifest_path).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            except OSError as exc:
                raise wrap_os_error(exc, output_path) from exc
        return [output_path, manifest_path, *metric_files]


def _manifest(data: Any, output_path: Path, metric_files: list[Path], series: Sequence[SeriesData]) -> dict[str, Any]:
    return {
        "format": "genmon csv export",
        "combined_file": output_path.name,
        "timestamps": f"local wall-clock time, ISO-8601 with offset ({offsets_note([s.timestamps for s in series])})",
        "formula_guard": "text cells starting with = + - @ tab or carriage return are prefixed with '",
        "metrics": [
            {
                "metric": name,
                "file": path.name,
                "points": data.bounds[index][1] - data.bounds[index][0],
                "columns": data.metric_table(index).column_names,
            }
            for index, (name, path) in enumerate(zip(data.names, metric_files))
        ],
    }
