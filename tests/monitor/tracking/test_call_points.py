"""A tracked call's points: checked in full the first time, then found by the call's kind; always what the full check gives."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from genmon.monitor.tracking.call_points import CallPoints, call_keywords
from genmon.monitor.tracking.generation import generation_points
from genmon.records.point_groups import expand
from genmon.records.validation import unpack_metadata


def finished_span(**fields: Any) -> Any:
    base = {
        "name": "chat",
        "span_type": "LLM",
        "component": "writer",
        "model_name": "gpt-4o",
        "finish_reason": "stop",
        "metadata": None,
        "prompt_tokens": 120,
        "completion_tokens": 80,
    }
    return SimpleNamespace(**{**base, **fields})


def full_check(span: Any, duration: float, error_type: str | None, ts: float) -> list[Any]:
    return generation_points(duration, error_type is None, call_keywords(span, error_type), ts)[1]


def as_points(group: Any) -> list[Any]:
    return [(n, v, t, unpack_metadata(m)) for n, v, t, m in expand([group])]


def test_every_call_of_a_kind_gets_the_points_the_full_check_gives() -> None:
    points = CallPoints()
    for i, (span, error) in enumerate(
        [
            (finished_span(), None),
            (finished_span(completion_tokens=7), None),  # found by its kind: only the numbers taken
            (finished_span(prompt_tokens=None), None),  # another kind: usage of one side
            (finished_span(), "TimeoutError"),  # a failed call: its own kind, error_type in the metadata
            (finished_span(), "TimeoutError"),
            (finished_span(prompt_tokens=None, completion_tokens=None, finish_reason=None), None),
        ]
    ):
        group, meta, _ = points.group(span, 0.25 + i, error, 100.0 + i)
        assert as_points(group) == full_check(span, 0.25 + i, error, 100.0 + i)
        assert meta == full_check(span, 0.25 + i, error, 100.0 + i)[0][3]


def test_a_count_the_sinks_cannot_write_as_it_is_takes_the_full_check() -> None:
    """A count past float's exact range, or a float, seen after ints: what the full check makes of it, not passed through."""
    points = CallPoints()
    points.group(finished_span(), 0.5, None, 1.0)
    for count in (2**60, 7.0):
        span = finished_span(completion_tokens=count)
        group, _, _ = points.group(span, 0.5, None, 2.0)
        assert as_points(group) == full_check(span, 0.5, None, 2.0)
        assert [type(p[1]) for p in as_points(group)] == [type(p[1]) for p in full_check(span, 0.5, None, 2.0)]


def test_the_cost_metadata_of_a_kind_is_kept_to_be_filled_once() -> None:
    points = CallPoints()
    _, _, first = points.group(finished_span(), 0.5, None, 1.0)
    first["price_table"] = "shared"
    _, _, again = points.group(finished_span(completion_tokens=3), 0.5, None, 2.0)
    assert again is first and again["price_table"] == "shared"
