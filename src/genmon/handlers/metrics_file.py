"""metrics.jsonl: one JSON object a line, written once per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from genmon.handlers.append_only import JsonLinesSink
from genmon.records.timefmt import IsoFormatter
from genmon.records.types import MetricPoint

METRICS_FILE = "metrics.jsonl"
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_PLAIN = '{"metric":%s,"value":%r,"timestamp":"%s.%06d%s"}\n'
_WITH_META = '{"metric":%s,"value":%r%s,"timestamp":"%s.%06d%s"}\n'


def metadata_fragment(meta: dict[str, Any]) -> str:
    """The metadata as the inside of a JSON object: ``"k":v,"k2":v2``."""
    return orjson.dumps(meta, option=_JSON_OPTIONS, default=str)[1:-1].decode()


class FileMetricHandler(JsonLinesSink):
    """Appends points to ``log_dir/metrics.jsonl`` as ``{"metric", "value", <metadata>, "timestamp"}``.

    The monitor's worker calls it inline (``runs_inline``) with whole batches:
    one write and one flush per batch, so a crash loses at most the batch in
    flight and never leaves a broken line before the last one.

    Example:
        >>> handler = FileMetricHandler(Path(tmp))  # doctest: +SKIP
        >>> handler.handle_metric("latency", 0.5, {"timestamp": "2026-01-01T00:00:00+00:00"})  # doctest: +SKIP
    """

    default_name = METRICS_FILE

    def __init__(self, log_dir: str | Path, filename: str | None = None, base_name: str | None = None) -> None:
        super().__init__(log_dir, filename, base_name)
        self.log_file = self.path  # afterimage's attribute
        self._iso = IsoFormatter()
        self._names: dict[str, str] = {}

    def _name_json(self, name: str) -> str:
        text = self._names.get(name)
        if text is None:
            if len(self._names) > 10_000:
                self._names.clear()
            text = self._names[name] = orjson.dumps(name).decode()
        return text

    def format_lines(self, points: list[MetricPoint]) -> str:
        """The metrics.jsonl text for a batch of points."""
        # This loop runs once per point on the worker thread, so the ISO
        # formatting is inlined: the date, time and offset change once a
        # second, only the microseconds are formatted per point.
        names, iso = self._names, self._iso
        fragments: dict[int, str] = {}  # metadata dicts are shared within a batch (track_generation)
        lines: list[str] = []
        append = lines.append
        last_second = None
        prefix = ("", "")
        for name, value, ts, meta in points:
            second = int(ts)
            if second != last_second:
                prefix, last_second = iso.second_prefix(second), second
            name_json = names.get(name)
            if name_json is None:
                name_json = self._name_json(name)
            if meta:
                frag = fragments.get(id(meta))
                if frag is None:
                    frag = fragments[id(meta)] = "," + metadata_fragment(meta)
                append(_WITH_META % (name_json, value, frag, prefix[0], int((ts - second) * 1e6), prefix[1]))
            else:
                append(_PLAIN % (name_json, value, prefix[0], int((ts - second) * 1e6), prefix[1]))
        return "".join(lines)

    def handle_batch(self, points: list[MetricPoint]) -> None:
        """Append a batch with one write; a point that cannot be encoded is dropped and reported, never the batch."""
        self._write_batch(points, self._encode, _metric_name)

    def _encode(self, points: list[MetricPoint]) -> bytes:
        return self.format_lines(points).encode()

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """Append one point (afterimage's protocol); ``metadata['timestamp']`` is kept as given."""
        entry = {"metric": metric_name, "value": value, **(metadata or {})}
        self._write_batch([entry], _encode_entries, lambda e: str(e.get("metric")))


def _metric_name(point: MetricPoint) -> str:
    return point[0] if isinstance(point[0], str) else repr(point[0])


def _encode_entries(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(e, option=_JSON_OPTIONS, default=str) + b"\n" for e in entries)
