"""spans.jsonl: one finished tracked call a line, written once per batch."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from genmon.handlers.append_only import JsonLinesSink, json_texts
from genmon.records.spans import SPAN_FIELDS, SpanRecord
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import unpack_metadata

SPANS_FILE = "spans.jsonl"
_START, _NAME = SPAN_FIELDS.index("start"), SPAN_FIELDS.index("name")
_START_OF = itemgetter(_START)
# Metadata keys are checked to be strings at the record call, so no OPT_NON_STR_KEYS (it halves the speed).
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class FileSpanHandler(JsonLinesSink):
    """Appends spans to ``log_dir/spans.jsonl``: ``SpanRecord.to_dict()`` plus an ISO ``timestamp`` of the start.

    The span worker calls it inline with whole batches, written in runs of
    whole lines, each one unbuffered write(2), so a forked child never
    flushes a copy of a half-written batch into the parent's file. The file is created with the first span, so a run that
    tracks nothing leaves no empty spans.jsonl.

    Example:
        >>> handler = FileSpanHandler(Path(tmp))  # doctest: +SKIP
        >>> handler.handle_span(span)  # doctest: +SKIP
    """

    name = "spans.jsonl"
    default_name = SPANS_FILE

    @property
    def takes_span_tuples(self) -> bool:
        """The monitor passes its queued spans as they are (``records.spans``), unless a subclass has its own ``handle_span_batch``."""
        return type(self).handle_span_batch is FileSpanHandler.handle_span_batch

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.spans_file = self.path
        self._iso = IsoFormatter()
        # a kind of call -> (its metadata object, its line; b"" when it can have none)
        self._templates: dict[tuple[Any, ...], tuple[Any, bytes]] = {}

    def format_line(self, span: SpanRecord) -> bytes:
        """One spans.jsonl line: ``span.to_dict()`` plus ``timestamp``."""
        return _line(span, self._iso(_START_OF(span))) + b"\n"

    def handle_span_batch(self, spans: list[SpanRecord]) -> None:
        """Append a batch, a write per run of lines; a span that cannot be encoded is dropped and reported."""
        self._write_batch(spans, self._encode, lambda span: str(span[_NAME]))

    def _encode(self, spans: list[SpanRecord]) -> bytes:
        """The batch's lines: each span's kind of call is a template, its own fields orjson's text for them.

        A span's fields split in two: those of its kind of call (operation,
        model, outcome, metadata...), the same for every call of that kind,
        and its own (ids, times, tokens, cost). A kind's line is dumped once
        with placeholders for its own fields; each span's are dumped a
        column at a time. A span whose kind cannot be a template (metadata
        as a dict, captured values) is dumped whole; both ways write the same
        bytes.
        """
        stamps = self._iso.many_bytes(list(map(_START_OF, spans)))  # a template per second, not a call per span
        templates = [self._template_of(kind) for kind in map(_KIND, spans)]
        rows = zip(*[json_texts(list(map(column, spans)), _JSON_OPTIONS) for column in _COLUMNS], stamps)
        first = templates[0]
        if first and templates.count(first) == len(templates):  # one kind of call: in C
            return b"".join(map(first.__mod__, rows))
        return b"".join(
            [
                template % row if template else _line(span, row[-1].decode()) + b"\n"
                for span, template, row in zip(spans, templates, rows)
            ]
        )

    def _template_of(self, kind: tuple[Any, ...]) -> bytes | None:
        """The line of a kind of call with %s for each span's own fields; None when the kind cannot have one.

        Kinds are found by equality, so a template is made only for a kind
        whose fields compare exactly: text or None, a bool outcome, and a
        metadata tuple, matched by identity (``(("x", 1),) == (("x", True),)``).
        A kind equal to such a one can then differ only in those two.
        """
        if type(kind[_KIND_SUCCESS]) is not bool:  # 1 == True
            return None
        meta = kind[_KIND_METADATA]
        try:
            entry = self._templates.get(kind)
        except TypeError:  # metadata items holding a list or a dict
            return None
        if entry is None or entry[0] is not meta:
            if len(self._templates) > 1024:
                self._templates.clear()
            exact = (meta is None or type(meta) is tuple) and _TEXT_OR_NONE.issuperset(map(type, _TEXT_FIELDS(kind)))
            entry = self._templates[kind] = (meta, _template(kind) if exact else b"")  # the entry keeps meta alive
        return entry[1] or None

    def handle_span(self, span: SpanRecord) -> None:
        """Append one span (the ``SpanHandler`` protocol)."""
        self.handle_span_batch([span])


def _line(span: tuple[Any, ...], stamp: str) -> bytes:
    """A span's JSON object: its fields (metadata ``{}`` rather than null), then its start as ISO ``timestamp``."""
    entry: dict[str, Any] = dict(zip(SPAN_FIELDS, span))
    meta = entry["metadata"]
    if type(meta) is not dict:  # None, or packed (a queued span's: records.spans)
        entry["metadata"] = unpack_metadata(meta) or {}
    entry["timestamp"] = stamp
    return orjson.dumps(entry, option=_JSON_OPTIONS, default=str)


# A spans.jsonl line's fields that are each call's own; the others are its kind of call's.
_OWN = (
    "call_id",
    "parent_call_id",
    "start",
    "duration_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "trace_id",
)
_OWN_AT = [SPAN_FIELDS.index(field) for field in _OWN]
_KIND_AT = [i for i in range(len(SPAN_FIELDS)) if i not in _OWN_AT]
_KIND = itemgetter(*_KIND_AT)
_KIND_SUCCESS, _KIND_METADATA = (_KIND_AT.index(SPAN_FIELDS.index(f)) for f in ("success", "metadata"))
_TEXT_FIELDS = itemgetter(*[i for i in range(len(_KIND_AT)) if i not in (_KIND_SUCCESS, _KIND_METADATA)])
_TEXT_OR_NONE = frozenset({str, type(None)})
_COLUMNS = [itemgetter(i) for i in _OWN_AT]
_HOLE = "\x00%d\x00"  # a placeholder orjson writes as "\u0000<n>\u0000"


def _template(kind: tuple[Any, ...]) -> bytes:
    """A kind of call's line with %s for each own field and the time; b"" if its text holds a placeholder."""
    fields = iter(kind)
    span = tuple(_HOLE % _OWN_AT.index(i) if i in _OWN_AT else next(fields) for i in range(len(SPAN_FIELDS)))
    line = _line(span, _HOLE % len(_OWN)).replace(b"%", b"%%") + b"\n"
    holes = [b'"\\u0000%d\\u0000"' % n for n in range(len(_OWN))]
    time_hole = b"\\u0000%d\\u0000" % len(_OWN)  # inside the timestamp's quotes
    if any(line.count(hole) != 1 for hole in (*holes, time_hole)):
        return b""  # the kind's own text holds a placeholder's: every span of it is dumped whole
    for hole in holes:
        line = line.replace(hole, b"%s")
    return line.replace(time_hole, b"%s")
