"""genmon.log: a common track_generation call is written from its shape's template, byte for byte as orjson writes its dict."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from genmon import FileLogHandler, GenerationMonitor
from genmon.records.log_records import as_dict, common_record, log_shape
from genmon.records.timefmt import IsoFormatter
from genmon.records.validation import json_options
from genmon.testing import CapturingLogHandler

COUNTS = ("prompt_token_count", "completion_token_count", "total_token_count", "conversation_length")
KEYWORDS: list[dict[str, Any]] = [
    {"model_name": "gpt-4o", "finish_reason": "stop", "prompt_token_count": 1, "completion_token_count": 2,
     "total_token_count": 3, "metadata": {"operation": "chat"}},
    {"total_token_count": 3, "model_name": 'q"uote\\%d é ☃', "prompt_token_count": 1, "metadata": {"k%s": "%%"}},
    {"model_name": "m"},  # no counts
    {"conversation_length": 9, "operation": "judge"},
]  # fmt: skip


def _dict_lines(records: list[Any]) -> bytes:
    """What orjson writes for each record's handler dict: the path every other record takes."""
    iso = IsoFormatter()
    out = b""
    for record in records:
        entry = record if isinstance(record, dict) else as_dict(record, iso(record[0]))
        out += orjson.dumps(entry, option=json_options(), default=str) + b"\n"
    return out


def _common(rng: random.Random, t: float, kwargs: dict[str, Any], success: Any) -> tuple[Any, ...]:
    counts = [k for k in COUNTS if k in kwargs]
    duration = rng.choice([rng.random() * 10 ** rng.randint(-12, 20), rng.randint(0, 10**6), 1e-05, 1e16, 0.0])
    numbers = tuple(rng.randrange(-(2**53), 2**53) for _ in counts)
    return common_record(t, log_shape(kwargs, counts), duration, success, (duration, 1.0, 0.0, *numbers))


def test_a_mixed_batch_is_written_as_orjson_writes_each_records_dict(tmp_path: Path) -> None:
    """Common calls of several shapes, failed ones, a non-bool success, plain logs, tracking logs and dicts, in order."""
    rng = random.Random(7)
    records: list[Any] = []
    for i in range(400):
        t = 1_700_000_000 + i * 0.37
        kind = rng.randrange(6)
        if kind == 0:
            records.append((t, "info", "plain", {"x": i, "y": [1, 2]}))
        elif kind == 1:
            records.append((t, "error", "Evaluation metrics", {"evaluator_type": "e"}, 0.5, False))
        elif kind == 2:
            records.append({"message": "afterimage dict", "level": "info", "timestamp": "2026-01-01T00:00:00"})
        else:
            success = rng.choice([True, False, 1])  # 1: not a bool, so orjson writes it, not the template
            records.append(_common(rng, t, rng.choice(KEYWORDS), success))
    handler = FileLogHandler(tmp_path)
    try:
        assert handler._encode(records) == _dict_lines(records)
    finally:
        handler.close()


@pytest.mark.parametrize("kwargs", KEYWORDS)
@pytest.mark.parametrize("success", [True, False])
def test_a_loop_of_one_kind_of_call_is_written_as_orjson_writes_it(tmp_path: Path, kwargs: dict, success: bool) -> None:
    """One shape and outcome across seconds: the batch path in C writes the same bytes."""
    rng = random.Random(11)
    records = [_common(rng, 1_700_000_000 + i * 0.013, kwargs, success) for i in range(300)]
    handler = FileLogHandler(tmp_path)
    try:
        assert handler._encode(records) == _dict_lines(records)
    finally:
        handler.close()


def test_other_log_handlers_get_dicts_and_genmon_log_gets_the_same_records(tmp_path: Path) -> None:
    """The queued tuples reach genmon.log as they are and every other handler as afterimage's dicts: the same records."""
    capture = CapturingLogHandler()
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, log_handlers=[FileLogHandler(tmp_path), capture])
    try:
        kwargs = dict(KEYWORDS[0])
        for i in range(50):
            monitor.track_generation(0.5 + i, i % 3 != 0, **kwargs)
        assert monitor.flush(10)
    finally:
        monitor.close()
    written = [orjson.loads(line) for line in (tmp_path / "genmon.log").read_bytes().splitlines()]
    calls = [r for r in written if r["message"] == "Generation metrics"]
    assert calls == [r for r in capture.records if r["message"] == "Generation metrics"]
    assert len(calls) == 50 and all(isinstance(r["data"]["metadata"], dict) for r in capture.records if "data" in r)
    assert [r["level"] for r in calls] == ["error" if i % 3 == 0 else "info" for i in range(50)]
    assert calls[1]["data"] == {"timestamp": calls[1]["timestamp"], "duration": 1.5, "success": True, **kwargs}


def test_a_loop_with_a_success_given_as_1_writes_it_as_given(tmp_path: Path) -> None:
    """True == 1: a batch of one shape where one call's success is the int 1 is not one kind of call."""
    rng = random.Random(3)
    records = [_common(rng, 1_700_000_000 + i, KEYWORDS[0], 1 if i == 7 else True) for i in range(50)]
    handler = FileLogHandler(tmp_path)
    try:
        assert handler._encode(records) == _dict_lines(records)
        assert b'"success":1,' in handler._encode(records)
    finally:
        handler.close()


def test_handle_log_appends_afterimages_record_as_it_is(tmp_path: Path) -> None:
    """afterimage's LogHandler protocol: handle_log(message=dict) writes that dict as one line."""
    handler = FileLogHandler(tmp_path)
    record = {"message": "hello", "data": {"n": 1}, "level": "info", "timestamp": "2026-01-01T00:00:00"}
    try:
        handler.handle_log(message=record)
    finally:
        handler.close()
    assert [orjson.loads(line) for line in (tmp_path / "genmon.log").read_bytes().splitlines()] == [record]


def test_keywords_the_common_path_does_not_take_are_logged_as_each_call_gave_them(tmp_path: Path) -> None:
    """value=, scores= and metric= are read every call (never baked into a shape); any object is written by str()."""
    capture = CapturingLogHandler()
    monitor = GenerationMonitor(log_dir=tmp_path, metrics_interval=0, log_handlers=[FileLogHandler(tmp_path), capture])
    given: list[Any] = [5, 6, "seven", {"k": 8}, object()]
    try:
        for value in given:
            monitor.track_generation(1.0, True, model_name="m", value=value, scores={"s": value}, metric=str(value))
        assert monitor.flush(10)
    finally:
        monitor.close()
    written = [orjson.loads(line)["data"] for line in (tmp_path / "genmon.log").read_bytes().splitlines()]
    calls = [d for d in written if "value" in d]
    assert [d["value"] for d in calls[:4]] == [5, 6, "seven", {"k": 8}] and calls[4]["value"].startswith("<object")
    got = [r["data"] for r in capture.records if r["message"] == "Generation metrics"]
    assert [d["value"] for d in got] == given and [d["scores"]["s"] for d in got] == given
