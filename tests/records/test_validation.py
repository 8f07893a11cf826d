"""Bad input gets a clear error at the call, records nothing, and never kills a worker."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genmon import GenerationMonitor

BAD_RECORDS = [
    ((None, 1.0), TypeError, "metric_name"),
    (("", 1.0), ValueError, "metric_name"),
    ((3, 1.0), TypeError, "metric_name"),
    (("m", float("nan")), ValueError, "value"),
    (("m", float("inf")), ValueError, "value"),
    (("m", None), TypeError, "value"),
    (("m", "1.5"), TypeError, "value"),
    (("m", [1]), TypeError, "value"),
    (("m", 1.0, {"metric": "x"}), ValueError, "reserved"),
    (("m", 1.0, {"value": 2}), ValueError, "reserved"),
    (("m", 1.0, {"timestamp": "yesterday"}), ValueError, r"metadata\['timestamp'\]"),
    (("m", 1.0, {"timestamp": object()}), TypeError, r"metadata\['timestamp'\]"),
    (("m", 1.0, {"timestamp": math.inf}), ValueError, r"metadata\['timestamp'\]"),
    (("m", 1.0, {"timestamp": -1.5}), ValueError, "between 1970 and 9999"),
    (("m", 1.0, {"timestamp": 1.7e12}), ValueError, "not milliseconds"),
    (("m", 1.0, {"timestamp": 1e20}), ValueError, "between 1970 and 9999"),
    (("m", 1.0, {1: "x"}), TypeError, "keys must be strings"),
    (("m", 1.0, {"k": object()}), TypeError, r"metadata\['k'\] must be JSON-serialisable"),
    (("m", 1.0, ["not", "a", "dict"]), TypeError, "metadata must be a dict"),
]


@pytest.mark.parametrize(("args", "error", "message"), BAD_RECORDS)
def test_bad_record_metric_input_raises_naming_the_argument_and_records_nothing(make_monitor, args, error, message):
    """Each bad name, value or metadata raises at the call with a message naming the argument."""
    monitor = make_monitor()
    with pytest.raises(error, match=message):
        monitor.record_metric(*args)
    assert monitor.flush(10)
    assert monitor.store.count() == 0 and monitor.stats()["recorded"] == 0


def test_accepted_value_types_are_converted_to_float(make_monitor) -> None:
    """bool, int and numpy scalars are accepted and stored as floats."""
    monitor = make_monitor()
    for value in (True, 3, np.float32(1.5), np.int64(7)):
        monitor.record_metric("m", value)
    assert monitor.flush(10)
    data = monitor.store.series("m")
    assert data is not None and data.values.tolist() == [1.0, 3.0, 1.5, 7.0]


def test_bad_tracking_input_records_nothing(make_monitor) -> None:
    """A bad duration or token count fails the whole track_generation call before anything is queued."""
    monitor = make_monitor()
    with pytest.raises(TypeError, match="duration"):
        monitor.track_generation("slow", True)
    with pytest.raises(ValueError, match="prompt_token_count"):
        monitor.track_generation(1.0, True, prompt_token_count=float("nan"))
    with pytest.raises(TypeError, match="metadata"):
        monitor.track_generation(1.0, True, metadata="x")
    with pytest.raises(TypeError, match="scores"):
        monitor.track_evaluation(1.0, True, "judge", scores=[0.5])
    with pytest.raises(TypeError, match=r"metrics\['b'\]"):
        monitor.record_metrics({"a": 1.0, "b": "x"})
    assert monitor.flush(10)
    assert monitor.store.count() == 0


def test_bad_reader_and_constructor_arguments_are_named(make_monitor, tmp_path) -> None:
    """Negative windows, bad policies and bad sizes raise naming the argument."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match="window"):
        monitor.get_metrics("m", timedelta(seconds=-1))
    with pytest.raises(TypeError, match="window"):
        monitor.get_metrics("m", "5m")
    with pytest.raises(ValueError, match="on_full"):
        GenerationMonitor(log_dir=tmp_path, on_full="explode")
    with pytest.raises(ValueError, match="max_queue_size"):
        GenerationMonitor(log_dir=tmp_path, max_queue_size=0)


def test_earlier_records_survive_a_bad_call(make_monitor) -> None:
    """A rejected call loses nothing recorded before it."""
    monitor = make_monitor()
    monitor.record_metric("m", 1.0)
    with pytest.raises(ValueError):
        monitor.record_metric("m", float("nan"))
    monitor.record_metric("m", 2.0)
    assert monitor.flush(10)
    data = monitor.store.series("m")
    assert data is not None and data.values.tolist() == [1.0, 2.0]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
anything = json_values | st.builds(object) | st.binary(max_size=5) | st.datetimes() | st.complex_numbers()


def test_arbitrary_input_never_kills_the_worker(make_monitor) -> None:
    """Whatever record_metric is given, it either records or raises TypeError/ValueError; the worker lives on."""
    monitor = make_monitor()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        name=st.one_of(st.text(max_size=30), st.integers(), st.none()),
        value=anything,
        metadata=st.none()
        | st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), anything, max_size=4)
        | st.fixed_dictionaries({"timestamp": anything | st.floats() | st.integers()}),
    )
    def record_anything(name, value, metadata) -> None:
        try:
            monitor.record_metric(name, value, metadata)
        except (TypeError, ValueError):
            pass
        monitor.record_metric("canary", 1.0)

    record_anything()
    assert monitor.flush(10)
    stats = monitor.stats()
    assert stats["worker_failures"] == 0 and stats["handler_errors"] == {}
    assert monitor.store.count("canary") >= 300
    assert monitor.store.count() == stats["processed"]


UNWRITABLE_RECORDS = [
    (("x\ud800", 1.0), ValueError, "metric_name holds a lone surrogate"),
    (("m", 1.0, {"k\udc80": 1}), ValueError, "metadata key holds a lone surrogate"),
    (("m", 1.0, {"k": "v\ud800"}), ValueError, r"metadata\['k'\] holds a lone surrogate"),
    (
        ("m", 1.0, {"request_id": 2**64}),
        ValueError,
        r"metadata\['request_id'\] must be an integer that fits in 64 bits",
    ),
    (("m", 1.0, {"request_id": -(2**63) - 1}), ValueError, "fits in 64 bits"),
    (("m", 1.0, {"ids": [2**64]}), TypeError, r"metadata\['ids'\] must be JSON-serialisable"),
    (("m", 10**400), ValueError, "value must be a finite number, got an int of 401 digits"),
]


@pytest.mark.parametrize(("args", "error", "message"), UNWRITABLE_RECORDS)
def test_records_no_file_could_hold_are_refused_at_the_call(make_monitor, args, error, message) -> None:
    """Lone surrogates, integers past int64 and ints past float's range raise at the call, naming the argument."""
    monitor = make_monitor()
    with pytest.raises(error, match=message):
        monitor.record_metric(*args)
    assert monitor.flush(10) and monitor.stats()["recorded"] == 0


def test_int64_metadata_at_the_bounds_is_accepted(make_monitor) -> None:
    """The largest and smallest int64 are fine: they are what Parquet holds."""
    monitor = make_monitor()
    monitor.record_metric("m", 1.0, {"hi": 2**63 - 1, "lo": -(2**63)})
    assert monitor.flush(10) and monitor.store.count("m") == 1


def test_log_data_and_extra_keywords_that_cannot_be_written_are_refused(make_monitor) -> None:
    """A cycle in log data or in track_generation's extra keywords, or surrogate text, raises naming the key."""
    monitor = make_monitor()
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    with pytest.raises(TypeError, match=r"data\['payload'\] must be JSON-serialisable"):
        monitor.log_info("step", payload=cycle)
    with pytest.raises(ValueError, match="message holds a lone surrogate"):
        monitor.log_warning("bad \ud800 text")
    with pytest.raises(TypeError, match=r"keyword\['context'\] must be JSON-serialisable"):
        monitor.track_generation(1.0, True, context=cycle)
    with pytest.raises(ValueError, match=r"keyword\['model_name'\] holds a lone surrogate"):
        monitor.track_generation(1.0, True, model_name="gpt\ud800")
    with pytest.raises(ValueError, match=r"keyword\['error'\] holds a lone surrogate"):
        monitor.track_generation(1.0, False, error="boom \udc80")
    with pytest.raises(ValueError, match="prompt_token_count must be a finite number"):
        monitor.track_generation(1.0, True, prompt_token_count=10**400)
    with pytest.raises(ValueError, match="duration must be a finite number"):
        monitor.track_generation(10**400, True)
    assert monitor.flush(10)
    assert monitor.stats()["recorded"] == 0 and monitor.stats()["logs"]["recorded"] == 0


def test_tracked_call_names_and_token_counts_that_cannot_be_written_are_refused(make_monitor) -> None:
    """track() refuses a surrogate operation, model or component; set_usage refuses 10**400 tokens with a ValueError."""
    monitor = make_monitor()
    with pytest.raises(ValueError, match="operation holds a lone surrogate"):
        monitor.track("chat\ud800")
    with pytest.raises(ValueError, match="model_name holds a lone surrogate"):
        monitor.track("chat", model_name="m\udfff")
    with pytest.raises(ValueError, match="component holds a lone surrogate"):
        monitor.track("chat", component="c\ud800")
    with monitor.track("chat") as span:
        with pytest.raises(ValueError, match="prompt_tokens must be a finite number"):
            span.set_usage(prompt_tokens=10**400)
        with pytest.raises(ValueError, match="model_name holds a lone surrogate"):
            span.set_model("m\ud800")


def test_an_exception_with_surrogate_text_is_recorded_escaped(make_monitor) -> None:
    """A tracked call failing with surrogate text in its message is still written: the text is escaped, not lost."""
    monitor = make_monitor()
    with pytest.raises(RuntimeError), monitor.track("chat"):
        raise RuntimeError("bad bytes \udcff")
    assert monitor.flush(10)
    (span,) = monitor.get_spans()
    assert span.exception_message == "bad bytes \\udcff"
    lines = (monitor.log_dir / "spans.jsonl").read_text().splitlines()
    assert len(lines) == 1 and "\\\\udcff" in lines[0]


def test_logging_records_with_unwritable_data_are_kept_as_text(make_monitor) -> None:
    """A logging record (LoggingHandler) whose extra data cannot be written is escaped rather than refused."""
    import logging

    from genmon.handlers import capture_logging
    from genmon.testing import CapturingLogHandler

    logs = CapturingLogHandler()
    monitor = make_monitor(log_handlers=[logs])
    logger = logging.getLogger("test.surrogates")
    with capture_logging(monitor, logger):
        logger.warning("bad \udc80 message", extra={"path": "/tmp/\udcff"})
    assert monitor.flush(10)
    (record,) = [r for r in logs.records if r.get("logger") == "test.surrogates"]
    assert record["message"] == "bad \\udc80 message" and record["path"] == "/tmp/\\udcff"
