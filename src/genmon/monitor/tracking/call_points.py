"""A finished span's metric points, as one point group: checked in full once per kind of call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from genmon.monitor.tracking.generation import generation_points
from genmon.records.point_groups import point_group
from genmon.records.validation import pack_metadata

if TYPE_CHECKING:
    from genmon.monitor.tracking.span import Span

# (metadata as given, checked metadata, metric names, the ones of model_usage and
# finish_reason, cost metadata by cost source, the checked metadata packed)
_Known = tuple[Any, Any, tuple[str, ...], tuple[float, ...], dict[str, Any], Any]


class CallPoints:
    """The points of tracked calls: track_generation's, built from a span.

    A call's metadata and metric names are what its tracker, model, reason,
    error type and usage make them. The first call of each combination is
    checked in full (``generation_points``); later ones are found by those
    and only their numbers are taken: the tracked call's hot path.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], _Known] = {}

    def group(
        self, span: Span, duration: float, error_type: str | None, ts: float
    ) -> tuple[Any, dict[str, Any] | None, dict[str, Any]]:
        """(the call's point group, its checked metadata, its cost metadata by source, to fill)."""
        prompt, completion = span.prompt_tokens, span.completion_tokens
        metadata = span.metadata
        key = (
            span.name,
            span.span_type,
            span.component,
            span.model_name,
            span.finish_reason,
            error_type,
            id(metadata),
            prompt is None,
            completion is None,
        )
        known = self._known.get(key)
        if known is not None and known[0] is metadata and _whole(prompt) and _whole(completion):
            _, meta, names, ones, cost_metas, packed = known
            counts = () if prompt is None and completion is None else _usage_counts(prompt, completion)
            if error_type is None:
                values = (duration, 1.0, 0.0, *ones, *counts)
            else:
                values = (duration, 0.0, 1.0, *ones, *counts)
            return point_group(names, values, ts, packed), meta, cost_metas
        _, points = generation_points(duration, error_type is None, call_keywords(span, error_type), ts)
        meta = points[0][3]
        names = tuple(p[0] for p in points)
        counts_n = (prompt is not None or completion is not None) + (prompt is not None) + (completion is not None)
        if len(self._known) >= 1024:
            self._known.clear()  # bounded: per-call metadata (set_metadata) never hits anyway
        # The entry keeps the dict alive: its id stays its own.
        ones = (1.0,) * (len(points) - 3 - counts_n)
        known = self._known[key] = (metadata, meta, names, ones, {}, pack_metadata(meta))
        return point_group(names, tuple(p[1] for p in points), ts, known[5]), meta, known[4]


def call_keywords(span: Span, error_type: str | None) -> dict[str, Any]:
    """A finished span as track_generation's keywords."""
    kwargs: dict[str, Any] = {"operation": span.name, "span_type": span.span_type}
    if span.component is not None:
        kwargs["component"] = span.component
    if span.model_name is not None:
        kwargs["model_name"] = span.model_name
    if span.metadata:
        kwargs["metadata"] = span.metadata
    if span.finish_reason is not None:
        kwargs["finish_reason"] = span.finish_reason
    prompt, completion = span.prompt_tokens, span.completion_tokens
    if prompt is not None:
        kwargs["prompt_token_count"] = prompt
    if completion is not None:
        kwargs["completion_token_count"] = completion
    if prompt is not None or completion is not None:
        kwargs["total_token_count"] = (prompt or 0) + (completion or 0)
    if error_type is not None:
        kwargs["error_type"] = error_type
    return kwargs


def _whole(count: Any) -> bool:
    """None, or a token count every sink writes as it is (an int within float's exact range)."""
    return count is None or (type(count) is int and -(2**53) <= count <= 2**53)


def _usage_counts(prompt: int | None, completion: int | None) -> tuple[int, ...]:
    """The prompt, completion and total token points of a call, those it has."""
    total = (prompt or 0) + (completion or 0)
    if prompt is None:
        return (completion, total)  # type: ignore[return-value]
    if completion is None:
        return (prompt, total)
    return (prompt, completion, total)
