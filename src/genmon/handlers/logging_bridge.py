"""Python logging, both ways: ``logging`` calls into the monitor, the monitor's records out to ``logging``.

- ``LoggingHandler(monitor)`` is a ``logging.Handler``: attach it to a logger
  and existing ``logger.info(...)`` calls feed the monitor's log pipeline
  (so they reach genmon.log, HTTP and every log handler).
- ``StdlibLoggerSink()`` is a monitor log handler: each record the monitor
  logs is re-emitted on the standard logger ``genmon`` (opt-in, or
  ``GenerationMonitor(log_to_logging=True)``).

The two never loop: records forwarded by the sink carry a marker the
handler skips, and the handler ignores genmon's own loggers by default.
A logging handler that raises is isolated like any sink: the monitor's log
worker counts the failure and lives on (the standard library's
``QueueListener`` thread dies in that case).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from genmon.errors import MonitorClosedError
from genmon.records.validation import safe_text

LOGGER_NAME = "genmon"
FORWARDED = "genmon_forwarded"  # attribute set on records the sink emits
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
# Attributes every LogRecord has; anything else came from ``extra=`` and is kept as data.
_CAPTURED_FIELDS = ("logger", "module", "function", "line")  # what LoggingHandler adds to every record
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def level_name(levelno: int) -> str:
    """The monitor's level text for a ``logging`` level number (custom levels round down)."""
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


class LoggingHandler(logging.Handler):
    """A ``logging.Handler`` that queues each record on the monitor's log pipeline.

    The record keeps its own time (``record.created``), its level, its
    formatted message, the logger name, module, function and line, the
    formatted exception when there is one, and the ``extra=`` fields.
    ``emit`` never does I/O: it puts on the monitor's bounded queue (its
    full-queue policy applies). Records logged after the monitor closed are
    counted in ``dropped_after_close`` and otherwise ignored.

    Args:
        monitor: the ``GenerationMonitor`` fed.
        level: the least level handled.
        ignore_loggers: logger names (and their children) skipped; genmon's
            own loggers by default, so the monitor never logs about itself in a loop.

    Example:
        >>> handler = LoggingHandler(monitor)  # doctest: +SKIP
        >>> logging.getLogger("my_generator").addHandler(handler)  # doctest: +SKIP
    """

    def __init__(
        self, monitor: Any, level: int = logging.NOTSET, ignore_loggers: Iterable[str] = (LOGGER_NAME,)
    ) -> None:
        super().__init__(level)
        self.monitor = monitor
        self.ignore_loggers = tuple(ignore_loggers)
        self.dropped_after_close = 0

    def _ignored(self, record: logging.LogRecord) -> bool:
        if getattr(record, FORWARDED, False):
            return True
        name = record.name
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self.ignore_loggers)

    def emit(self, record: logging.LogRecord) -> None:
        if self._ignored(record):
            return
        try:
            message = record.getMessage()
            data: dict[str, Any] = {
                "logger": record.name,
                "module": record.module,
                "function": record.funcName,
                "line": record.lineno,
            }
            if record.exc_info:
                data["exception"] = self.formatException(record.exc_info)
                data["error_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            for key, value in record.__dict__.items():
                if key not in _STANDARD_ATTRIBUTES and key not in data:
                    data[key] = value
            # The same queue and policy as monitor.log_info; one tuple, no I/O.
            try:
                self.monitor.log(level_name(record.levelno), message, record.created, **data)
            except (TypeError, ValueError):
                # A record the files could not hold (a lone surrogate, a cycle in extra=):
                # kept as text rather than refused, since logging must never raise.
                safe = {safe_text(str(k)): safe_text(_text(v)) for k, v in data.items()}
                self.monitor.log(level_name(record.levelno), safe_text(message), record.created, **safe)
        except MonitorClosedError:
            self.dropped_after_close += 1
        except Exception:  # noqa: BLE001 - logging's contract: report through handleError, never raise
            self.handleError(record)

    def formatException(self, exc_info: Any) -> str:
        return (self.formatter or logging.Formatter()).formatException(exc_info)


@contextmanager
def capture_logging(
    monitor: Any, logger: str | logging.Logger | None = None, level: int = logging.INFO
) -> Iterator[LoggingHandler]:
    """Feed a logger's records (the root logger by default) to the monitor inside a ``with`` block.

    The handler is removed on exit, so no handler outlives the block. The
    logger's own level is left as it is; ``level`` filters in the handler.
    """
    target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
    handler = LoggingHandler(monitor, level)
    target.addHandler(handler)
    try:
        yield handler
    finally:
        target.removeHandler(handler)
        handler.close()


class StdlibLoggerSink:
    """A monitor log handler re-emitting each record on a standard logger (``genmon`` by default).

    Records the monitor captured from Python logging (``LoggingHandler``) are
    not re-emitted: logging's handlers saw them once already.

    The ``logging.LogRecord`` keeps the record's level, message and time
    (``created``); its data travels in ``record.genmon_data`` (a dict) and
    its ISO timestamp in ``record.genmon_timestamp``. It runs on its own lane,
    so slow logging handlers delay only it; one that raises is counted in
    the monitor's handler errors and the next record is still forwarded.

    Args:
        logger: a logger or its name.

    Example:
        >>> monitor = GenerationMonitor(log_handlers=[FileLogHandler(d), StdlibLoggerSink()])  # doctest: +SKIP
    """

    def __init__(self, logger: str | logging.Logger = LOGGER_NAME) -> None:
        self.logger = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
        self.name = f"logging:{self.logger.name}"

    def handle_batch(self, records: list[dict[str, Any]]) -> None:
        """Forward a batch; a raising logging handler stops this batch only, and is reported."""
        first_error: Exception | None = None
        for record in records:
            try:
                self.handle_log(record)
            except Exception as error:  # noqa: BLE001 - keep forwarding the rest of the batch
                first_error = first_error or error
        if first_error is not None:
            raise first_error

    def handle_log(self, message: dict[str, Any]) -> None:
        """Forward one record (afterimage's protocol); records captured from ``logging`` are not sent back."""
        if captured_from_logging(message):
            return
        level = _LEVELS.get(str(message.get("level", "info")).lower(), logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        text = str(message.get("message", ""))
        data = {k: v for k, v in message.items() if k not in ("message", "level", "timestamp")}
        record = self.logger.makeRecord(
            self.logger.name, level, "genmon", 0, text, (), None, extra={"genmon_data": data, FORWARDED: True}
        )
        stamp = message.get("timestamp")
        record.genmon_timestamp = stamp
        created = _epoch(stamp)
        if created is not None:  # the time the monitor recorded it, not the time it was forwarded
            record.created = created
            record.msecs = (created - int(created)) * 1000
        self.logger.handle(record)


def captured_from_logging(message: dict[str, Any]) -> bool:
    """True for a record ``LoggingHandler`` took from Python logging: it went through logging's handlers once already.

    Forwarding it again would print it twice (once under its own logger, once
    under ``genmon``). Such records carry the fields ``LoggingHandler`` adds.
    """
    return all(key in message for key in _CAPTURED_FIELDS) and isinstance(message.get("logger"), str)


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp).timestamp()
    except ValueError:
        return None


def _text(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not lose the record
        return f"<unprintable {type(value).__name__}>"
