"""spans.jsonl: one finished tracked call a line, written once per batch."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from genmon.monitor.spans import SpanRecord
from genmon.monitor.timefmt import IsoFormatter

SPANS_FILE = "spans.jsonl"
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


class FileSpanHandler:
    """Appends spans to ``log_dir/spans.jsonl``: ``SpanRecord.to_dict()`` plus an ISO ``timestamp`` of the start.

    The span worker calls it inline with whole batches (one write and one
    flush per batch). The file is created with the first span, so a run that
    tracks nothing leaves no empty spans.jsonl.

    Example:
        >>> handler = FileSpanHandler(Path(tmp))  # doctest: +SKIP
        >>> handler.handle_span(span)  # doctest: +SKIP
    """

    runs_inline = True
    name = "spans.jsonl"

    def __init__(self, log_dir: str | Path, filename: str = SPANS_FILE) -> None:
        self.log_dir = Path(log_dir)
        self.spans_file = self.log_dir / filename
        self._file: IO[bytes] | None = None
        self._iso = IsoFormatter()

    def _open(self) -> IO[bytes]:
        if self._file is None or self._file.closed:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(self.spans_file, "ab")  # noqa: SIM115 - held until close()
        return self._file

    def format_line(self, span: SpanRecord) -> bytes:
        entry: dict[str, Any] = span.to_dict()
        entry["timestamp"] = self._iso(span.start)
        return orjson.dumps(entry, option=_JSON_OPTIONS, default=str) + b"\n"

    def handle_span_batch(self, spans: list[SpanRecord]) -> None:
        """Append a batch with one write and one flush."""
        f = self._open()
        f.write(b"".join([self.format_line(span) for span in spans]))
        f.flush()

    def handle_span(self, span: SpanRecord) -> None:
        """Append one span (the ``SpanHandler`` protocol)."""
        self.handle_span_batch([span])

    def flush(self, timeout_s: float = 5.0) -> None:
        if self._file is not None and not self._file.closed:
            self._file.flush()

    def close(self, timeout_s: float = 5.0) -> None:
        if self._file is not None:
            self._file.close()
