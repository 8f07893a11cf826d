"""The points that track_generation and track_evaluation record (afterimage's metric names)."""

from __future__ import annotations

from typing import Any

from genmon.monitor.records import check_metadata, check_value, to_epoch

TOKEN_METRICS = ("prompt_token_count", "completion_token_count", "total_token_count")
GENERATION_COUNTS = (*TOKEN_METRICS, "conversation_length")
# Keyword arguments that are metrics or carry the error, never call metadata.
_NOT_METADATA = frozenset({*GENERATION_COUNTS, "error", "metadata", "timestamp", "scores", "metric", "value"})
_SCALAR_TYPES = frozenset({str, int, float, bool})

Point = tuple[str, float, float, "dict[str, Any] | None"]


def _number(raw: Any, argument: str) -> float:
    kind = type(raw)
    if kind is int:
        return float(raw)
    if kind is float and raw - raw == 0.0:  # finite
        return raw  # type: ignore[no-any-return]
    return check_value(raw, argument)


def call_metadata(kwargs: dict[str, Any], now: float) -> tuple[float, dict[str, Any] | None]:
    """The metadata attached to every metric of one call, and the call's time.

    Scalar keyword arguments (model_name, finish_reason, operation,
    component, ...) and the items of a ``metadata=`` dict become metadata;
    a ``timestamp`` keyword or metadata key sets the time.
    """
    meta = {k: v for k, v in kwargs.items() if type(v) in _SCALAR_TYPES and k not in _NOT_METADATA}
    ts = now
    extra = kwargs.get("metadata")
    if extra is not None:
        ts, checked = check_metadata(extra, now)
        if checked:
            meta = {**checked, **meta}
    stamp = kwargs.get("timestamp")
    if stamp is not None:
        ts = to_epoch(stamp, "timestamp")
    return ts, meta or None


def generation_points(duration: Any, success: Any, kwargs: dict[str, Any], now: float) -> tuple[float, list[Point]]:
    """Validate a track_generation call and return its time and points."""
    duration = _number(duration, "duration")
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
    model = kwargs.get("model_name")
    if model is not None:
        points.append((f"model_usage:{model}", 1.0, ts, meta))
    reason = kwargs.get("finish_reason")
    if reason is not None:
        points.append((f"finish_reason:{reason}", 1.0, ts, meta))
    for key in GENERATION_COUNTS:
        raw = kwargs.get(key)
        if raw is not None:
            points.append((key, _number(raw, key), ts, meta))
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
    data = {**fields, **kwargs}
    error = kwargs.get("error")
    if isinstance(error, BaseException):
        data["error"] = str(error)
        data["error_type"] = type(error).__name__
    return data
