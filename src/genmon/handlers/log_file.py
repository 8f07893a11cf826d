"""The log file: one JSON object a line with message, level, timestamp and data."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Any

from genmon.handlers.append_only import JsonLinesSink, encode_json_lines, json_texts
from genmon.records.log_records import COMMON_FIELDS, GENERATION_MESSAGE, LogRecords, LogShape, as_dict, read_shape
from genmon.records.validation import json_options

LOG_FILE = "genmon.log"


class FileLogHandler(JsonLinesSink):
    """Appends log records to ``log_dir/genmon.log``, one JSON object a line.

    Unlike afterimage's, it creates no ``logging.Logger`` (those are never
    freed); it writes the file directly and closes it with the monitor.
    """

    default_name = LOG_FILE

    @property
    def takes_log_tuples(self) -> bool:
        """The monitor passes its queued log tuples as they are (``records.log_records``), unless a subclass has its own ``handle_batch``."""
        return type(self).handle_batch is FileLogHandler.handle_batch

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.log_file = self.path
        self._records = LogRecords()
        # (shape, success) -> (its line template, what takes its counts in the template's order)
        self._templates: dict[tuple[LogShape, bool], tuple[bytes, Any, list[Any]]] = {}

    def handle_batch(self, records: list[Any]) -> None:
        """Append a batch of records, a write per run of lines; a record that cannot be encoded is dropped and reported.

        Records are afterimage's dicts, or the monitor's queued log tuples (``takes_log_tuples``).
        """
        self._write_batch(records, self._encode, _message)

    def handle_log(self, message: dict[str, Any]) -> None:
        """Append one record (afterimage's protocol)."""
        self.handle_batch([message])

    def _encode(self, records: list[Any]) -> bytes:
        """The batch's lines: a common track_generation call's from its shape's template, any other by orjson.

        The template is orjson's own text for the call's keywords, so both
        ways write the same bytes (tests compare them).
        """
        import orjson  # loaded with the first batch, not at `import genmon`

        queued = [record for record in records if type(record) is tuple]
        if not queued:
            return encode_json_lines(records)
        stamps = self._records.stamps(queued)
        if (
            len(queued) == len(records)
            and _COMMON_FIELDS_ONLY.issuperset(map(len, records))
            and _BOOL_ONLY.issuperset(map(type, map(_SUCCESS, records)))  # True == 1: told apart by type
        ):
            kinds = set(map(_SHAPE_AND_SUCCESS, records))
            if len(kinds) == 1:  # a loop of one kind of call: in C
                template, _, columns = self._template(*records[0][3:6:2])
                values = list(map(_VALUES, records))
                durations = json_texts(list(map(_DURATION, records)))
                counts = [list(map(column, values)) for column in columns]
                return b"".join(map(template.__mod__, zip(stamps, durations, *counts, stamps)))
        options = json_options()
        common = [record[4] for record in queued if len(record) == COMMON_FIELDS and type(record[5]) is bool]
        next_duration = iter(json_texts(common)).__next__  # orjson's text, as inside a dict
        next_stamp = iter(stamps).__next__
        lines: list[bytes] = []
        append = lines.append
        for record in records:
            if type(record) is not tuple:
                append(orjson.dumps(record, option=options, default=str) + b"\n")
                continue
            stamp = next_stamp()
            if len(record) == COMMON_FIELDS and type(record[5]) is bool:
                template, arrange, _ = self._template(record[3], record[5])
                append(template % (stamp, next_duration(), *arrange(record[6]), stamp))
            else:
                append(orjson.dumps(as_dict(record, stamp.decode()), option=options, default=str) + b"\n")
        return b"".join(lines)

    def _template(self, shape: LogShape, success: bool) -> tuple[bytes, Any, list[Any]]:
        """The line of a common call of ``shape``: %s for its times and duration, %d for each count.

        With it, what takes the call's counts from its point values in the
        template's order: as one tuple, and one getter per count.
        """
        entry = self._templates.get((shape, success))
        if entry is not None:
            return entry
        import orjson

        options = json_options()

        def text(value: Any) -> bytes:
            return orjson.dumps(value, option=options, default=str).replace(b"%", b"%%")

        keys, values, slots = read_shape(shape)
        parts = [b'{"message":', text(GENERATION_MESSAGE), b',"data":{"timestamp":"%s","duration":%s,"success":']
        parts.append(b"true" if success else b"false")
        for index, (key, value) in enumerate(zip(keys, values)):
            parts += [b",", text(key), b":", b"%d" if index in slots else text(value)]
        parts += [b'},"level":', text("info" if success else "error"), b',"timestamp":"%s"}\n']
        # The counts are the last point values, in the order of their slots; the template
        # wants them in key order.
        n = len(slots)
        positions = [i - n for i in sorted(range(n), key=slots.__getitem__)]
        arrange = itemgetter(*positions) if n > 1 else (lambda v: (v[positions[0]],)) if n else (lambda v: ())
        if len(self._templates) > 1024:
            self._templates.clear()
        entry = self._templates[shape, success] = (b"".join(parts), arrange, list(map(itemgetter, positions)))
        return entry


_COMMON_FIELDS_ONLY = frozenset({COMMON_FIELDS})
_BOOL_ONLY = frozenset({bool})
_SHAPE_AND_SUCCESS = itemgetter(3, 5)
_DURATION, _SUCCESS, _VALUES = itemgetter(4), itemgetter(5), itemgetter(6)


def _message(record: Any) -> str:
    """A record's message, for the report of one that could not be written."""
    if type(record) is tuple:
        return str(record[2])
    return str(record.get("message", ""))
