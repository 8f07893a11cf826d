"""HttpHandler: POSTs JSON batches of metrics, logs, spans and alerts to an HTTP endpoint.

One handler object can be passed as a metric handler, a log handler and an
alert handler at once; spans reach it through the metric handlers (it has
``handle_span_batch``). Every record goes into one bounded buffer and is
sent by the handler's own thread (see ``genmon.handlers._batching``), so a
slow or dead endpoint delays only this sink.

The request body (``Content-Type: application/json``)::

    {"source": {"service": "genmon", "host": "...", "pid": 123},
     "run":    {"run_name": "nightly", "tags": {"dataset": "v3"}, "config": {"temperature": 0.7}},
     "sent_at": "2025-01-31T12:00:00.000000+01:00",
     "metrics": [{"metric": "generation_time", "value": 1.2,
                  "timestamp": "<ISO-8601>", "metadata": {"model_name": "gpt-4o"}}],
     "logs":    [{"message": "...", "level": "info", "timestamp": "<ISO-8601>", ...}],
     "spans":   [{"call_id": "...", "parent_call_id": null, "name": "chat", ...,
                  "timestamp": "<ISO-8601 of start>"}],
     "alerts":  [{"name": "...", "message": "...", "level": "warning",
                  "timestamp": "<ISO-8601>", "data": {...}}]}

All four lists are always present (possibly empty). ``run`` (the monitor's
``run_name``, ``tags`` and ``config``, as in run.json) is there when the
monitor was given any of them; a monitor without them sends the same body
as before ``run`` existed.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from genmon.handlers._http_post import HttpPoster
from genmon.handlers._remote import RemoteSink
from genmon.handlers._retry import close_timeout
from genmon.handlers._secrets import redact_url
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import ENCODING_ERRORS, json_options

__all__ = ["HttpHandler", "redact_url"]

_JSON_OPTIONS = json_options()


class HttpHandler(RemoteSink):
    """Sends metrics, logs, spans and alerts as JSON batches to ``endpoint`` (HTTP POST).

    Transient failures (connection refused or reset, timeouts, HTTP 408, 425,
    429 with ``Retry-After``, 5xx) are retried with exponential backoff and
    jitter; after ``max_retries`` retries the batch is dropped and counted.
    Other 4xx answers reject the batch at once (retrying would not help).
    Header values (tokens) never appear in ``repr``, errors or logs.

    Args:
        endpoint: ``http://`` or ``https://`` URL the batches are POSTed to.
        headers: extra request headers, e.g. ``{"Authorization": "Bearer ..."}``.
        timeout: socket timeout in seconds of each request (connect and each read).
        batch_size: records per request at most.
        flush_interval: seconds a record waits at most before it is sent.
        max_buffer: records buffered at most (beyond: dropped as ``buffer_full``).
        max_retries: retries of a failed batch before it is dropped.
        backoff: first retry delay in seconds (doubles each retry, with jitter).
        max_backoff: the cap of the retry delay in seconds.
        name: the handler's name in the monitor's error counts and thread name.

    Example:
        >>> sink = HttpHandler("https://collector.example/ingest", headers={"Authorization": "Bearer t"})
        >>> monitor = GenerationMonitor(metric_handlers=[sink], log_handlers=[sink], alert_handlers=[sink])  # doctest: +SKIP
        >>> sink.stats()["sent"]  # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        timeout: float = 5.0,
        batch_size: int = 500,
        flush_interval: float = 5.0,
        *,
        max_buffer: int = 10_000,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        name: str = "HttpHandler",
    ) -> None:
        self._keep_config(locals())
        self.name = name
        self._poster = HttpPoster(
            endpoint, dict(headers or {}), timeout, {"Content-Type": "application/json", "User-Agent": "genmon"}
        )
        self.endpoint = self._poster.endpoint
        self.timeout = self._poster.timeout
        self._redactor = self._poster.redactor
        self._iso = IsoFormatter()
        self._source = {"service": "genmon", "host": socket.gethostname(), "pid": os.getpid()}
        self._run: dict[str, Any] | None = None
        self._start_sender("http", self._post)

    def __repr__(self) -> str:
        # Header names only: their values are secrets.
        return (
            f"HttpHandler(endpoint={self.endpoint!r}, headers={sorted(self._poster.headers)!r}, timeout={self.timeout})"
        )

    def bind_monitor(self, context: Any) -> None:
        """Called by the monitor: its run name, tags and config go into every request's ``run``."""
        super().bind_monitor(context)
        run = getattr(context, "run", None)
        if run is not None and not run.is_empty():
            self._run = run.to_dict()

    # -- records in (any thread; never blocks) ------------------------------------------
    def handle_batch(self, records: list[Any]) -> None:
        """A batch of metric points (tuples) or of log records (dicts): the monitor calls both."""
        # Buffered as they are (the lane's list is shared: copied by put_many's extend);
        # payload() tells the kinds apart by type.
        if records:
            self._sender.put_many(records)

    def handle_metric(self, metric_name: str, value: float, metadata: dict[str, Any] | None = None) -> None:
        """One point (afterimage's protocol); ``metadata['timestamp']`` (ISO text) is kept as is."""
        meta = dict(metadata or {})
        stamp = meta.pop("timestamp", None)
        self._sender.put(_IsoPoint((metric_name, value, stamp, meta or None)))

    def handle_log(self, message: dict[str, Any]) -> None:
        """One log record (afterimage's protocol)."""
        self._sender.put(dict(message))

    def handle_span_batch(self, spans: list[Any]) -> None:
        """Finished spans (``SpanRecord``), sent in the ``spans`` list."""
        self._sender.put_many(spans)

    def handle_alert(self, alert: Any) -> None:
        """An ``Alert``, sent in the ``alerts`` list; returns at once."""
        self._sender.put(_AlertItem(alert))

    def __call__(self, alert: Any) -> None:
        """Alert handlers are callables: ``alert_handlers=[http_handler]`` works."""
        self.handle_alert(alert)

    # -- lifecycle ------------------------------------------------------------------
    def close(self, timeout_s: float | None = 5.0) -> bool:
        """Send what is buffered and stop the thread, never waiting past ``timeout_s``.

        Called by the monitor's lane during ``monitor.close(timeout)``, it may
        use the rest of the monitor's deadline when that is longer.
        """
        ok = self._sender.close(close_timeout(self._context, timeout_s))
        if self._sender.join(0):
            self._poster.close()
        return ok

    # -- the sender thread ---------------------------------------------------------------
    def payload(self, batch: list[Any]) -> bytes:
        """The JSON body for a batch of buffered records (see the module docstring)."""
        return self._encode_body(batch)[0]

    def _encode_body(self, batch: list[Any]) -> tuple[bytes, int]:
        """The body, and how many records had to be left out because they could not be encoded."""
        iso = self._iso
        lists: dict[str, list[Any]] = {"metrics": [], "logs": [], "spans": [], "alerts": []}
        for record in batch:
            kind, entry = _entry(record, iso)
            lists[kind].append(entry)
        body: dict[str, Any] = {"source": self._source}
        if self._run is not None:
            body["run"] = self._run
        body.update(sent_at=iso(time.time()), **lists)
        try:
            return orjson.dumps(body, option=_JSON_OPTIONS, default=str), 0
        except ENCODING_ERRORS:
            pass
        # One record cannot be encoded: send the others rather than lose the batch.
        left_out = 0
        for kind, entries in lists.items():
            good = []
            for entry in entries:
                try:
                    orjson.dumps(entry, option=_JSON_OPTIONS, default=str)
                    good.append(entry)
                except ENCODING_ERRORS:
                    left_out += 1
            body[kind] = good
        return orjson.dumps(body, option=_JSON_OPTIONS, default=str), left_out

    def _post(self, batch: list[Any], budget_s: float | None) -> int:
        body, left_out = self._encode_body(batch)
        self._poster.post(body, budget_s)
        return left_out


class _IsoPoint(tuple):  # type: ignore[type-arg]
    """A point from ``handle_metric``: (name, value, ISO timestamp text, metadata)."""

    __slots__ = ()


class _AlertItem:
    __slots__ = ("alert",)

    def __init__(self, alert: Any) -> None:
        self.alert = alert


def _entry(record: Any, iso: IsoFormatter) -> tuple[str, Any]:
    """Which list of the body a buffered record goes to, and its JSON-ready form."""
    kind = type(record)
    if kind is tuple:  # a metric point (name, value, ts, metadata)
        name, value, ts, meta = record
        return "metrics", {"metric": name, "value": value, "timestamp": iso(ts), "metadata": meta or {}}
    if kind is dict:
        return "logs", record
    if kind is _IsoPoint:
        name, value, stamp, meta = record
        return "metrics", {"metric": name, "value": value, "timestamp": stamp, "metadata": meta or {}}
    if kind is _AlertItem:
        return "alerts", _alert_dict(record.alert)
    entry = record.to_dict()  # a SpanRecord
    entry["timestamp"] = iso(record.start)
    return "spans", entry


def _alert_dict(alert: Any) -> dict[str, Any]:
    stamp = alert.timestamp
    if isinstance(stamp, datetime):
        stamp = stamp.astimezone().isoformat()  # naive means local time, as the monitor makes them
    return {"name": alert.name, "message": alert.message, "level": alert.level, "timestamp": stamp, "data": alert.data}
