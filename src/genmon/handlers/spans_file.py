"""spans.jsonl: one finished tracked call a line, written once per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from genmon.handlers.append_only import JsonLinesSink
from genmon.records.spans import SPAN_FIELDS, SpanRecord
from genmon.records.timefmt import IsoFormatter

SPANS_FILE = "spans.jsonl"
# Metadata keys are checked to be strings at the record call, so no OPT_NON_STR_KEYS (it halves the speed).
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class FileSpanHandler(JsonLinesSink):
    """Appends spans to ``log_dir/spans.jsonl``: ``SpanRecord.to_dict()`` plus an ISO ``timestamp`` of the start.

    The span worker calls it inline with whole batches, each one unbuffered
    write(2), so a forked child never flushes a copy of a half-written
    batch into the parent's file. The file is created with the first span, so a run that
    tracks nothing leaves no empty spans.jsonl.

    Example:
        >>> handler = FileSpanHandler(Path(tmp))  # doctest: +SKIP
        >>> handler.handle_span(span)  # doctest: +SKIP
    """

    name = "spans.jsonl"
    default_name = SPANS_FILE

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.spans_file = self.path
        self._iso = IsoFormatter()

    def format_line(self, span: SpanRecord) -> bytes:
        """One spans.jsonl line: ``span.to_dict()`` plus ``timestamp``."""
        return _line(span, self._iso(span.start)) + b"\n"

    def handle_span_batch(self, spans: list[SpanRecord]) -> None:
        """Append a batch with one write; a span that cannot be encoded is dropped and reported."""
        self._write_batch(spans, self._encode, lambda span: str(span.name))

    def _encode(self, spans: list[SpanRecord]) -> bytes:
        stamps = self._iso.many(span.start for span in spans)  # a template per second, not a call per span
        return b"".join([_line(span, stamp) + b"\n" for span, stamp in zip(spans, stamps)])

    def handle_span(self, span: SpanRecord) -> None:
        """Append one span (the ``SpanHandler`` protocol)."""
        self.handle_span_batch([span])


def _line(span: SpanRecord, stamp: str) -> bytes:
    """A span's JSON object: its fields (metadata ``{}`` rather than null), then its start as ISO ``timestamp``."""
    entry: dict[str, Any] = dict(zip(SPAN_FIELDS, span))
    if entry["metadata"] is None:
        entry["metadata"] = {}
    entry["timestamp"] = stamp
    return orjson.dumps(entry, option=_JSON_OPTIONS, default=str)
