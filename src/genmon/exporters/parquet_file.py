"""Parquet export: one long table (metric, timestamp, value, one column per metadata key), spans beside it.

``timestamp`` is a time-zone-aware timestamp (microseconds, local zone);
metadata columns keep their type (int, float, bool, text); nested values are
JSON text and a key holding mixed types is text. When spans are given, they
go to a second file, ``<stem>_spans.parquet`` (one row per tracked call, see
``genmon.exporters.spans_table``), written in the same atomic step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

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
    writes_spans = True  # export(..., spans=...) writes <stem>_spans.parquet beside the points

    def export(self, series: Sequence[SeriesData], output_path: Path, spans: Iterable[Any] = ()) -> list[Path]:
        """Write ``output_path`` (and ``<stem>_spans.parquet`` when there are spans) atomically; return the paths."""
        import pyarrow.parquet as pq

        from genmon.exporters.spans_table import spans_table

        output_path = Path(output_path)
        table = long_table(series, timestamps="instant").table
        span_rows = list(spans)
        written = [output_path]
        with StagedFiles() as staged:
            try:
                pq.write_table(table, staged.path_for(output_path))
                if span_rows:
                    spans_path = spans_path_for(output_path)
                    pq.write_table(spans_table(span_rows), staged.path_for(spans_path))
                    written.append(spans_path)
            except OSError as exc:
                raise wrap_os_error(exc, output_path) from exc
        return written


def spans_path_for(output_path: Path) -> Path:
    """``out/metrics.parquet`` -> ``out/metrics_spans.parquet``."""
    return output_path.with_name(f"{output_path.stem}_spans{output_path.suffix or '.parquet'}")
