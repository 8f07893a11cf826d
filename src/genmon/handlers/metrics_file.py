"""metrics.jsonl: one JSON object a line, written once per batch."""

from __future__ import annotations

from itertools import chain, repeat
from operator import is_, itemgetter
from pathlib import Path
from typing import Any

from genmon.handlers.append_only import JsonLinesSink, encode_json_lines
from genmon.records.point_groups import GROUP_FIELDS, count_points
from genmon.records.timefmt import IsoFormatter, micros_by_second
from genmon.records.types import MetricPoint
from genmon.records.validation import json_options, safe_text, unpack_metadata

METRICS_FILE = "metrics.jsonl"


def metadata_fragment(meta: dict[str, Any]) -> str:
    """The metadata as the inside of a JSON object: ``"k":v,"k2":v2``."""
    import orjson  # loaded with the first point, not at `import genmon`

    return orjson.dumps(meta, option=json_options(), default=str)[1:-1].decode()


class FileMetricHandler(JsonLinesSink):
    """Appends points to ``log_dir/metrics.jsonl`` as ``{"metric", "value", <metadata>, "timestamp"}``.

    The monitor's worker calls it inline (``runs_inline``) with whole batches:
    one write per run of about 512 KB (a batch is one run or a few), so a
    crash loses at most the batch in flight and never leaves a broken line
    before the last one.

    Example:
        >>> handler = FileMetricHandler(Path(tmp))  # doctest: +SKIP
        >>> handler.handle_metric("latency", 0.5, {"timestamp": "2026-01-01T00:00:00+00:00"})  # doctest: +SKIP
    """

    default_name = METRICS_FILE

    @property
    def takes_point_groups(self) -> bool:
        """The monitor passes its point groups as they are, unless a subclass has its own ``handle_batch``."""
        return type(self).handle_batch is FileMetricHandler.handle_batch

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.log_file = self.path  # afterimage's attribute
        self._iso = IsoFormatter()
        # '{"metric":<name>,"value":' per metric name, and ',<metadata>' per metadata dict. Record
        # calls share one dict per distinct small metadata (see check_metadata), so a fragment
        # is encoded once, not once a point; the entry keeps its dict alive so an id is never reused.
        self._heads: dict[str, str] = {}
        self._fragments: dict[int, tuple[dict[str, Any], str]] = {}
        self._templates: dict[tuple[str, ...], str] = {}  # per point group's names (see _template)

    def _head(self, name: str) -> str:
        if len(self._heads) > 10_000:
            self._heads.clear()
        import orjson

        head = self._heads[name] = '{"metric":' + orjson.dumps(name).decode() + ',"value":'
        return head

    def _template(self, names: tuple[str, ...]) -> str:
        """A point group's lines with ``%r`` for each value and NUL for the suffix (cached per set of names)."""
        if len(self._templates) > 1024:
            self._templates.clear()
        template = self._templates[names] = self._lines(names, ["%r"] * len(names))
        return template

    def _lines(self, names: tuple[str, ...], shown: list[str]) -> str:
        """The lines of ``names``, each value's text from ``shown`` and a NUL for the suffix (JSON text holds no raw NUL)."""
        heads = [(self._heads.get(name) or self._head(name)).replace("%", "%%") for name in names]
        return "".join([head + text + "\0" for head, text in zip(heads, shown)])

    def _fragment(self, meta: dict[str, Any]) -> str:
        if len(self._fragments) > 4096:
            self._fragments.clear()
        fragment = "," + metadata_fragment(unpack_metadata(meta) or {})  # packed or not
        self._fragments[id(meta)] = (meta, fragment)
        return fragment

    def format_lines(self, points: list[MetricPoint]) -> str:
        """The metrics.jsonl text for a batch of points."""
        if len(points) > 16:
            texts = self._uniform_texts(points)
            if texts is not None:
                return "".join(texts)
            if len(points) % 2 == 0:  # a tracked call with a cost: its group, then its cost point
                firsts, seconds = self._uniform_texts(points[0::2]), self._uniform_texts(points[1::2])
                if firsts is not None and seconds is not None:
                    return "".join(chain.from_iterable(zip(firsts, seconds)))
        # This loop runs once per point on the worker thread: the line is three cached
        # pieces and two numbers. The date, time and offset change once a second.
        heads, iso, templates = self._heads, self._iso, self._templates
        lines: list[str] = []
        append = lines.append
        last_second = None
        last_ts = None
        last_meta: Any = _NOTHING
        stamp = tail = fragment = suffix = ""
        record: Any
        for record in points:
            if len(record) == GROUP_FIELDS:  # a call's points: one template for its names, one suffix
                group_names, values, ts, meta, _ = record
            else:
                name, value, ts, meta = record
            if ts != last_ts or meta is not last_meta:  # the points of one call share both: one suffix
                if ts != last_ts:
                    second = int(ts)
                    if second != last_second:
                        stamp = ',"timestamp":"' + iso.second_template(second) + '"}\n'
                        last_second = second
                    tail = stamp % int((ts - second) * 1e6)
                    last_ts = ts
                if meta is not last_meta:
                    fragment = self._fragment_of(meta)
                    last_meta = meta
                suffix = fragment + tail if fragment else tail
            if len(record) == GROUP_FIELDS:
                template = templates.get(group_names)
                if template is None:
                    template = self._template(group_names)
                append((template % values).replace("\0", suffix))
                continue
            head = heads.get(name)
            if head is None:
                head = self._head(name)
            append(head + repr(value) + suffix)
        return "".join(lines)

    def _uniform_texts(self, records: list[Any]) -> list[str] | None:
        """Each record's text when they share one metadata object and are points of one metric or groups of one set of names.

        Such a batch (a loop of record_metric or track_generation calls) is
        formatted in C: one %-template per second, the microseconds taken for
        every record at once with numpy, by the same float arithmetic as
        ``format_lines``' loop. None for any other batch.
        """
        first = records[0]
        names = list(map(_NAME, records))
        if names.count(first[0]) != len(names) or not all(map(is_, map(_META, records), repeat(first[3]))):
            return None
        if type(first[0]) is str:
            return self._series_texts(first[0], first[3], records)
        return self._shape_texts(first[0], first[3], records) if len(first) == GROUP_FIELDS else None

    def _series_texts(self, name: str, meta: Any, points: list[MetricPoint]) -> list[str]:
        head = self._heads.get(name) or self._head(name)
        prefix = head.replace("%", "%%") + "%r" + self._fragment_of(meta).replace("%", "%%")
        micros, seconds = micros_by_second(list(map(_TIME, points)))
        rows = list(zip(map(_VALUE, points), micros))
        out: list[str] = []
        for begin, end, second in seconds:
            template = prefix + ',"timestamp":"' + self._iso.second_template(second) + '"}\n'
            out.extend(map(template.__mod__, rows[begin:end]))
        return out

    def _shape_texts(self, names: tuple[str, ...], meta: Any, groups: list[Any]) -> list[str]:
        """Each group is its names' template filled with its values, its suffix (metadata, time) in place of each NUL."""
        template, rows = self._batch_template(names, list(map(_VALUE, groups)))
        fragment = self._fragment_of(meta).replace("%", "%%")
        micros, seconds = micros_by_second(list(map(_TIME, groups)))
        bodies = list(map(template.__mod__, rows))
        out: list[str] = []
        for begin, end, second in seconds:
            stamp = fragment + ',"timestamp":"' + self._iso.second_template(second) + '"}\n'
            out.extend(map(str.replace, bodies[begin:end], repeat("\0"), map(stamp.__mod__, micros[begin:end])))
        return out

    def _batch_template(self, names: tuple[str, ...], values: list[tuple[Any, ...]]) -> tuple[str, list[Any]]:
        """The names' template for a batch of their groups' values, and what each group fills it with.

        A value that is one object in every group of the batch (the 1.0 of
        each success_rate, the 0.0 of each error_rate, a model_usage's 1.0)
        is written into the template, so its repr is taken once a batch
        rather than once a line; the groups fill in their other values.
        """
        first = values[0]
        same = [all(map(is_, map(itemgetter(i), values), repeat(value))) for i, value in enumerate(first)]
        if not any(same):
            return self._templates.get(names) or self._template(names), values
        shown = [repr(value).replace("%", "%%") if fixed else "%r" for value, fixed in zip(first, same)]
        template = self._lines(names, shown)
        varying = [i for i, fixed in enumerate(same) if not fixed]
        if not varying:
            return template, [()] * len(values)
        # One varying value fills the template by itself (a value is never a tuple); several as a tuple.
        return template, list(map(itemgetter(*varying), values))

    def _fragment_of(self, meta: Any) -> str:
        """``,<metadata>`` for a metadata object (cached by identity), or "" for none."""
        if not meta:
            return ""
        entry = self._fragments.get(id(meta))
        return entry[1] if entry is not None and entry[0] is meta else self._fragment(meta)

    def handle_batch(self, points: list[MetricPoint]) -> None:
        """Append a batch, a write per run of lines; a point that cannot be encoded is dropped and reported, never the batch.

        The batch may hold point groups (``takes_point_groups``): the monitor's worker passes them as they are.
        """
        self._write_batch(points, self._encode, _metric_name, count_points)

    def _encode(self, points: list[MetricPoint]) -> bytes:
        return self.format_lines(points).encode()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """Append one point (afterimage's protocol); ``metadata['timestamp']`` is kept as given."""
        entry = {"metric": metric_name, "value": value, **(metadata or {})}
        self._write_batch([entry], encode_json_lines, lambda e: str(e.get("metric")))


_NAME, _TIME, _VALUE, _META = (itemgetter(i) for i in (0, 2, 1, 3))


_NOTHING = object()  # no point seen yet (None is a point's "no metadata")


def _metric_name(point: MetricPoint) -> str:
    if len(point) == GROUP_FIELDS:
        return ", ".join(map(safe_text, point[0]))
    return point[0] if isinstance(point[0], str) else repr(point[0])
