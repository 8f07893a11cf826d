"""Python logging both ways: LoggingHandler into the monitor, StdlibLoggerSink out to the `genmon` logger."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from genmon import GenerationMonitor
from genmon.handlers.logging_bridge import LoggingHandler, StdlibLoggerSink, capture_logging, level_name
from genmon.testing import CapturingLogHandler, ManualClock, RaisingHandler


class ListHandler(logging.Handler):
    """Keeps the logging records it receives."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def genmon_logger() -> Iterator[ListHandler]:
    """The `genmon` logger at DEBUG with a list handler; restored at test end."""
    logger = logging.getLogger("genmon")
    handler, old_level = ListHandler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    """A user logger at DEBUG that does not propagate; its handlers are removed at test end."""
    logger = logging.getLogger("genmon_test_app")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def test_logging_calls_feed_the_monitor_log_pipeline(tmp_path: Path, app_logger: logging.Logger) -> None:
    """logger.warning(...) through LoggingHandler reaches the log handlers and genmon.log with level, extra and exception."""
    capture = CapturingLogHandler()
    with GenerationMonitor(log_dir=tmp_path, log_handlers=[capture], metrics_interval=0) as monitor:
        with capture_logging(monitor, app_logger, level=logging.INFO):
            app_logger.debug("below the handler's level")
            app_logger.warning("item %d failed", 7, extra={"item_id": "abc"})
            try:
                1 / 0  # noqa: B018 - raise something to log
            except ZeroDivisionError:
                app_logger.exception("boom")
        assert not any(isinstance(h, LoggingHandler) for h in app_logger.handlers)  # removed on exit
        assert monitor.flush(10)
    warning = next(r for r in capture.records if r["message"] == "item 7 failed")
    assert (warning["level"], warning["logger"], warning["item_id"], warning["function"]) == (
        "warning",
        "genmon_test_app",
        "abc",
        "test_logging_calls_feed_the_monitor_log_pipeline",
    )
    error = next(r for r in capture.records if r["message"] == "boom")
    assert error["level"] == "error" and error["error_type"] == "ZeroDivisionError" and "1 / 0" in error["exception"]
    assert not any(r["message"] == "below the handler's level" for r in capture.records)


def test_the_record_keeps_its_own_time(tmp_path: Path) -> None:
    """A LogRecord's `created` time becomes the monitor record's timestamp."""
    capture = CapturingLogHandler()
    with GenerationMonitor(log_dir=tmp_path, log_handlers=[capture], metrics_interval=0) as monitor:
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "at a fixed time", None, None)
        record.created = 1_800_000_123.25
        LoggingHandler(monitor).handle(record)
        assert monitor.flush(10)
    (entry,) = capture.records
    assert datetime.fromisoformat(entry["timestamp"]).timestamp() == 1_800_000_123.25


def test_logging_after_close_is_counted_not_raised(tmp_path: Path) -> None:
    """A record logged after the monitor closed is counted in dropped_after_close; logging raises nothing."""
    monitor = GenerationMonitor(log_dir=tmp_path, log_handlers=[], metrics_interval=0)
    handler = LoggingHandler(monitor)
    monitor.close()
    handler.handle(logging.LogRecord("app", logging.INFO, __file__, 1, "late", None, None))
    assert handler.dropped_after_close == 1


def test_monitor_records_go_to_the_genmon_logger_when_asked(tmp_path: Path, genmon_logger: ListHandler) -> None:
    """log_to_logging=True re-emits each monitor record on `genmon` with its level, time and data."""
    clock = ManualClock(1_800_000_000.0)
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0, clock=clock, log_to_logging=True) as monitor:
        monitor.log_warning("slow batch", batch=4)
        monitor.log_info("done")
        assert monitor.flush(10)
    records = [r for r in genmon_logger.records if r.getMessage() in ("slow batch", "done")]
    assert [(r.levelno, r.getMessage()) for r in records] == [(logging.WARNING, "slow batch"), (logging.INFO, "done")]
    assert records[0].genmon_data == {"batch": 4}  # type: ignore[attr-defined]
    assert records[0].created == 1_800_000_000.0
    # The file still gets them: the sink is added beside the default log file.
    lines = [orjson.loads(line) for line in (tmp_path / "genmon.log").read_bytes().splitlines()]
    assert [line["message"] for line in lines if line["message"] in ("slow batch", "done")] == ["slow batch", "done"]


def test_forwarding_is_off_by_default(tmp_path: Path, genmon_logger: ListHandler) -> None:
    """Without log_to_logging the `genmon` logger receives nothing from the monitor."""
    with GenerationMonitor(log_dir=tmp_path, metrics_interval=0) as monitor:
        monitor.log_info("quiet")
        assert monitor.flush(10)
    assert not [r for r in genmon_logger.records if r.getMessage() == "quiet"]


def test_both_directions_together_do_not_loop(tmp_path: Path, genmon_logger: ListHandler) -> None:
    """With the root logger captured and forwarding on, each monitor record is seen exactly once."""
    capture = CapturingLogHandler()
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        with (
            GenerationMonitor(
                log_dir=tmp_path, log_handlers=[capture], metrics_interval=0, log_to_logging=True
            ) as monitor,
            capture_logging(monitor),
        ):
            monitor.log_info("once")
            logging.getLogger("genmon_test_other").info("from the app")
            assert monitor.flush(10)
            assert monitor.flush(10)  # anything a loop would have queued is in by now
    finally:
        root.setLevel(old_level)
    assert capture.messages().count("once") == 1
    assert capture.messages().count("from the app") == 1
    assert [r.getMessage() for r in genmon_logger.records].count("once") == 1


class RaisingLoggingHandler(logging.Handler):
    """A logging handler whose handle() raises for one message (bypassing logging's handleError)."""

    def __init__(self, poison: str) -> None:
        super().__init__(logging.DEBUG)
        self.poison = poison
        self.calls = 0

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        self.calls += 1
        if record.getMessage() == self.poison:
            raise RuntimeError("logging handler failure")
        return True


def test_a_raising_logging_handler_never_kills_the_log_worker(tmp_path: Path, app_logger: logging.Logger) -> None:
    """A `genmon` logging handler and a monitor log handler that raise are counted; later records still flow."""
    genmon = logging.getLogger("genmon")
    raising = RaisingLoggingHandler("poison")
    after = ListHandler()
    genmon.addHandler(raising)
    genmon.addHandler(after)
    old_level = genmon.level
    genmon.setLevel(logging.DEBUG)
    capture = CapturingLogHandler()
    try:
        with GenerationMonitor(
            log_dir=tmp_path, log_handlers=[RaisingHandler(), capture, StdlibLoggerSink()], metrics_interval=0
        ) as monitor:
            with capture_logging(monitor, app_logger):
                monitor.log_info("poison")
                assert monitor.flush(10)
                monitor.log_info("after the failure")
                app_logger.info("captured, not sent back")
                monitor.log_info("still alive")
                assert monitor.flush(10)
            assert monitor._rt.logs.worker.thread.is_alive()
            errors = monitor.errors.snapshot()
            assert errors["logging:genmon"] == 1 and errors["RaisingHandler"] >= 1
            assert monitor.stats()["worker_failures"] == 0
    finally:
        genmon.removeHandler(raising)
        genmon.removeHandler(after)
        genmon.setLevel(old_level)
    wanted = ("poison", "after the failure", "captured, not sent back", "still alive")
    assert [m for m in capture.messages() if m in wanted] == list(wanted)
    assert [r.getMessage() for r in after.records if r.getMessage() in wanted] == ["after the failure", "still alive"]


def test_log_to_logging_prints_each_captured_record_once(
    tmp_path: Path, app_logger: logging.Logger, genmon_logger: ListHandler
) -> None:
    """With log_to_logging=True, a record captured from Python logging is not re-emitted on the `genmon` logger."""
    with GenerationMonitor(log_dir=tmp_path, log_to_logging=True, metrics_interval=0) as monitor:
        with capture_logging(monitor, app_logger):
            app_logger.info("item %d done", 7)
        monitor.log_warning("slow batch")
        assert monitor.flush(10)
    assert [r.getMessage() for r in genmon_logger.records] == ["slow batch"]
    lines = [orjson.loads(line) for line in (tmp_path / "genmon.log").read_bytes().splitlines()]
    assert [line["message"] for line in lines] == ["item 7 done", "slow batch"]  # still in the monitor's own log


def test_failed_track_generation_calls_log_at_error(tmp_path: Path, genmon_logger: ListHandler) -> None:
    """A failed track_generation (or track_evaluation) call logs at ERROR; a successful one at INFO."""
    with GenerationMonitor(log_dir=tmp_path, log_to_logging=True, metrics_interval=0) as monitor:
        monitor.track_generation(0.5, True, model_name="m")
        monitor.track_generation(0.5, False, model_name="m", error="429")
        monitor.track_evaluation(0.1, False, "judge", {"relevance": 0.2})
        assert monitor.flush(10)
    assert [(r.levelname, r.getMessage()) for r in genmon_logger.records] == [
        ("INFO", "Generation metrics"),
        ("ERROR", "Generation metrics"),
        ("ERROR", "Evaluation metrics"),
    ]


def test_level_names_map_logging_levels_down_to_the_nearest() -> None:
    """Standard and custom logging levels map to the monitor's level names."""
    assert [level_name(n) for n in (5, 10, 15, 20, 25, 30, 40, 50, 60)] == [
        "debug",
        "debug",
        "debug",
        "info",
        "info",
        "warning",
        "error",
        "critical",
        "critical",
    ]
