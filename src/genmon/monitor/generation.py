"""The points that track_generation and track_evaluation record (afterimage's metric names)."""

from __future__ import annotations

from typing import Any

from genmon.monitor.records import check_metadata, check_value

TOKEN_METRICS = ("prompt_token_count", "completion_token_count", "total_token_count")
GENERATION_COUNTS = (*TOKEN_METRICS, "conversation_length")
# Keyword arguments that are metrics or carry the error, never call metadata.
_NOT_METADATA = frozenset({*GENERATION_COUNTS, "error", "metadata", "timestamp", "scores"})
_SCALARS = (str, int, float, bool)

Point = tuple[str, float, float, "dict[str, Any] | None"]


def call_metadata(kwargs: dict[str, Any], now: float) -> tuple[float, dict[str, Any] | None]:
    """The metadata attached to every metric of one call, and the call's time.

    Scalar keyword arguments (model_name, finish_reason, operation,
    component, ...) and the items of a ``metadata=`` dict become metadata;
    a ``timestamp`` keyword or metadata key sets the time.
    """
    meta: dict[str, Any] = {}
    extra = kwargs.get("metadata")
    if extra is not None:
        if not isinstance(extra, dict):
            raise TypeError(f"metadata must be a dict or None, got {type(extra).__name__}")
        meta.update(extra)
    for key, value in kwargs.items():
        if key not in _NOT_METADATA and isinstance(value, _SCALARS):
            meta[key] = value
    if kwargs.get("timestamp") is not None:
        meta["timestamp"] = kwargs["timestamp"]
    if not meta:
        return now, None
    return check_metadata(meta, now)


def generation_points(duration: Any, success: Any, kwargs: dict[str, Any], now: float) -> tuple[float, list[Point]]:
    """Validate a track_generation call and return its time and points."""
    duration = check_value(duration, "duration")
    counts = {}
    for key in GENERATION_COUNTS:
        raw = kwargs.get(key)
        if raw is not None:
            counts[key] = check_value(raw, key)
    ts, meta = call_metadata(kwargs, now)
    failed = 0.0 if success else 1.0
    # afterimage recorded error_rate only when an `error` keyword was given,
    # so its mean was not a rate; here every call records 0 or 1.
    error_rate = 1.0 if (failed or kwargs.get("error")) else 0.0
    points: list[Point] = [
        ("generation_time", duration, ts, meta),
        ("success_rate", 1.0 - failed, ts, meta),
        ("error_rate", error_rate, ts, meta),
    ]
    if kwargs.get("model_name") is not None:
        points.append((f"model_usage:{kwargs['model_name']}", 1.0, ts, meta))
    if kwargs.get("finish_reason") is not None:
        points.append((f"finish_reason:{kwargs['finish_reason']}", 1.0, ts, meta))
    points.extend((key, value, ts, meta) for key, value in counts.items())
    return ts, points


def evaluation_points(
    duration: Any, success: Any, evaluator_type: Any, scores: Any, kwargs: dict[str, Any], now: float
) -> tuple[float, list[Point]]:
    """Validate a track_evaluation call and return its time and points."""
    duration = check_value(duration, "duration")
    if not isinstance(evaluator_type, str) or not evaluator_type:
        raise TypeError(f"evaluator_type must be a non-empty string, got {evaluator_type!r:.80}")
    if not isinstance(scores, dict):
        raise TypeError(f"scores must be a dict of name to number (or {{'score', 'feedback'}}), got {type(scores).__name__}")
    ts, meta = call_metadata(kwargs, now)
    base = dict(meta or {}, evaluator_type=evaluator_type)
    points: list[Point] = [("evaluation_time", duration, ts, dict(base, success=bool(success)))]
    for score_name, score in scores.items():
        feedback = score.get("feedback") if isinstance(score, dict) else None
        value = score.get("score", 0) if isinstance(score, dict) else score
        score_meta = dict(base, feedback=feedback) if feedback is not None else base
        points.append((f"evaluation_score_{score_name}", check_value(value, f"scores[{score_name!r}]"), ts, score_meta))
    error_rate = 1.0 if (not success or kwargs.get("error")) else 0.0
    points.append(("evaluation_error_rate", error_rate, ts, base))
    for key in TOKEN_METRICS:
        raw = kwargs.get(key)
        if raw is not None:
            points.append((key, check_value(raw, key), ts, base))
    return ts, points


def log_data(kwargs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The ``data`` of the log record a tracking call writes (afterimage's shape)."""
    data = dict(fields)
    for key, value in kwargs.items():
        if key == "error" and isinstance(value, BaseException):
            data["error"] = str(value)
            data["error_type"] = type(value).__name__
        else:
            data[key] = value
    return data
