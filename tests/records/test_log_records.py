"""Queued log records: a common track_generation call's record holds no dict and rebuilds the caller's keywords."""

from __future__ import annotations

import gc
import math
import random

import pytest

from genmon.monitor.tracking.generation import common_generation_points, generation_points, remember_generation
from genmon.records.log_records import COMMON_FIELDS, LogRecords, as_dict, log_shape, shape_keywords
from genmon.records.timefmt import IsoFormatter

KWARGS = {
    "model_name": "gpt-4o",
    "total_token_count": 200,  # counts in another order than GENERATION_COUNTS'
    "finish_reason": "stop",
    "prompt_token_count": 120,
    "metadata": {"operation": "chat", "team": "évals"},
    "completion_token_count": 80,
}


def _common(kwargs: dict, duration: float = 0.5, success: bool = True) -> tuple:
    remember_generation(kwargs, generation_points(duration, success, kwargs, 10.0)[1])
    common = common_generation_points(duration, success, kwargs, 10.0)
    assert common is not None
    return common


def test_a_common_calls_log_record_gives_back_the_callers_keywords_in_their_order() -> None:
    group, record = _common(KWARGS)
    assert len(record) == COMMON_FIELDS and record[6] is group[1]  # the counts are the group's own values
    keywords = shape_keywords(record[3], record[6])
    assert keywords == KWARGS and list(keywords) == list(KWARGS)
    assert keywords["metadata"] is not KWARGS["metadata"]  # a copy: a handler may change it


def test_a_common_calls_record_becomes_the_same_dict_as_the_full_paths() -> None:
    """The 7-field record and the 6-field one the full path queues make the same handler dict."""
    _, record = _common(KWARGS, 0.25, False)
    full = (record[0], "error", "Generation metrics", dict(KWARGS), 0.25, False)
    stamp = IsoFormatter()(record[0])
    assert as_dict(record, stamp) == as_dict(full, stamp)
    assert list(as_dict(record, stamp)["data"]) == list(as_dict(full, stamp)["data"])


def test_the_collector_untracks_a_queued_common_record_and_not_one_holding_the_keywords() -> None:
    """A common record waiting in the queue costs the collector nothing once seen; the dict-carrying one stays tracked."""
    _, record = _common(KWARGS)
    holding_dict = (record[0], "info", "Generation metrics", dict(KWARGS), 0.5, True)
    gc.collect()
    gc.collect()  # a tuple is untracked once its items are: the collector sees the outer one first
    assert not gc.is_tracked(record)
    assert gc.is_tracked(holding_dict)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model_name": "m"},  # no counts, no metadata
        {"conversation_length": 4, "prompt_token_count": 3},
        {"metadata": {"a%d": "100%"}, "completion_token_count": 1},
    ],
)
def test_a_shape_is_text_and_keeps_any_keyword_order(kwargs: dict) -> None:
    counts = [
        k
        for k in ("prompt_token_count", "completion_token_count", "total_token_count", "conversation_length")
        if k in kwargs
    ]
    shape = log_shape(kwargs, counts)
    assert type(shape) is str  # never tracked by the collector
    values = (0.5, 1.0, 0.0, *(kwargs[k] for k in counts))
    assert shape_keywords(shape, values) == kwargs


def test_log_records_stamp_each_record_as_the_formatter_does() -> None:
    rng = random.Random(5)
    stamps = sorted(1_700_000_000 + rng.random() * 3 for _ in range(200))
    batch = [(t, "info", "m", {"i": i}) for i, t in enumerate(stamps)]
    iso = IsoFormatter()
    assert [r["timestamp"] for r in LogRecords()(batch)] == [iso(t) for t in stamps]
    assert LogRecords().stamps(batch) == [iso(t).encode() for t in stamps]


@pytest.mark.parametrize("size", [1, 31, 32, 5000])
def test_many_stamps_are_each_formatted_as_one_is(size: int) -> None:
    """A batch (numpy from 32 stamps) matches the one-stamp formatter, microsecond edges and negative times included."""
    rng = random.Random(size)
    stamps = [
        rng.choice([1_700_000_000 + rng.random() * 5, -rng.random() * 100, math.nextafter(1e9 + 1, 0)])
        for _ in range(size)
    ]
    stamps += [1_700_000_007.9999999999, 0.0]
    iso = IsoFormatter()
    expected = [iso(t) for t in stamps]
    assert IsoFormatter().many(stamps) == expected
    assert IsoFormatter().many_bytes(stamps) == [e.encode() for e in expected]
    assert all(".1000000" not in e for e in expected)
