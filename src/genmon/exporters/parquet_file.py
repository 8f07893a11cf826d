"""Parquet export: one long table (metric, timestamp, value, one column per metadata key).

``timestamp`` is a time-zone-aware timestamp (microseconds, local zone);
metadata columns keep their type (int, float, bool, text); nested values are
JSON text and a key holding mixed types is text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genmon.exporters.columns import long_table
from genmon.exporters.staging import StagedFiles, wrap_os_error
from genmon.monitor.store.series_data import SeriesData


class ParquetExporter:
    """Writes the snapshot as one Parquet file.

    Example:
        >>> ParquetExporter().format_name
        'parquet'
    """

    format_name = "parquet"

    def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
        """Write ``output_path`` atomically and return ``[output_path]``."""
        import pyarrow.parquet as pq

        output_path = Path(output_path)
        table = long_table(series, timestamps="instant").table
        with StagedFiles() as staged:
            try:
                pq.write_table(table, staged.path_for(output_path))
            except OSError as exc:
                raise wrap_os_error(exc, output_path) from exc
        return [output_path]
