"""JSON export: ``{metric: [{"timestamp": ..., "value": ..., <metadata keys>...}, ...]}``.

afterimage's layout, with the metadata it dropped put back as keys of each
point and timestamps as local ISO-8601 with their UTC offset.

The text is assembled column-wise: Arrow formats the timestamps, orjson the
values (the same shortest round-trip floats as metrics.jsonl) and each
distinct metadata dict once; an element-wise Arrow join glues the pieces, and
the joined strings' data buffer is written as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from genmon.exporters.columns import column_name, iso_strings, json_bytes
from genmon.exporters.staging import StagedFiles, wrap_os_error
from genmon.monitor.store.series_data import SeriesData

# Points formatted per Arrow call: bounds memory and keeps offsets within int32.
CHUNK_POINTS = 262_144


class JsonExporter:
    """Writes one JSON object mapping each metric name to its list of points.

    Example:
        >>> JsonExporter().format_name
        'json'
    """

    format_name = "json"

    def export(self, series: Sequence[SeriesData], output_path: Path) -> list[Path]:
        """Write ``output_path`` atomically and return ``[output_path]``."""
        output_path = Path(output_path)
        with StagedFiles() as staged:
            temporary = staged.path_for(output_path)
            try:
                with open(temporary, "wb") as file:
                    write_json(series, file)
            except OSError as exc:
                raise wrap_os_error(exc, output_path) from exc
        return [output_path]


def write_json(series_list: Sequence[SeriesData], file: IO[bytes]) -> None:
    """Stream the ``{metric: [points]}`` document for a snapshot to a binary file."""
    file.write(b"{")
    for index, series in enumerate(series_list):
        file.write(b"," if index else b"")
        file.write(orjson.dumps(series.name) + b":[")
        fragments = _metadata_fragments(series.metadata_table)
        for start in range(0, len(series), CHUNK_POINTS):
            if start:
                file.write(b",")
            end = min(start + CHUNK_POINTS, len(series))
            file.write(_points_text(series, start, end, fragments))
        file.write(b"]")
    file.write(b"}")


def _metadata_fragments(table: Sequence[dict[str, Any] | None]) -> Any:
    """Per metadata code, the ``,"key":value...`` text that ends a point's object."""
    import pyarrow as pa

    texts = []
    for entry in table:
        if not entry:
            texts.append("")
            continue
        renamed = {column_name(k): v for k, v in entry.items()}
        body = json_bytes(renamed)
        texts.append("," + body[1:-1].decode())
    return pa.array(texts, pa.string())


def _points_text(series: SeriesData, start: int, end: int, fragments: Any) -> memoryview:
    """The comma-separated point objects of rows [start, end) (no trailing comma)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stamps = iso_strings(series.timestamps[start:end])
    numbers = orjson.dumps(series.typed_values()[start:end], option=orjson.OPT_SERIALIZE_NUMPY)  # ints as recorded
    values = pc.list_flatten(pc.split_pattern(pa.array([numbers[1:-1].decode()]), ","))
    metadata = fragments.take(pa.array(series.codes[start:end]))
    joined = pc.binary_join_element_wise('{"timestamp":"', stamps, '","value":', values, metadata, "},", "")
    # Each element ends with "},": the data buffer is the whole list body plus one extra comma.
    ends = np.frombuffer(joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4)
    return memoryview(joined.buffers()[2])[int(ends[0]) : int(ends[-1]) - 1]
