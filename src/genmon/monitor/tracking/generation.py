"""The points that track_generation and track_evaluation record (afterimage's metric names)."""

from __future__ import annotations

from typing import Any

from genmon.records.validation import (
    INT64_MAX,
    INT64_MIN,
    check_json_data,
    check_metadata,
    check_name,
    check_text,
    check_value,
    intern_metadata,
    safe_text,
    to_epoch,
)

TOKEN_METRICS = ("prompt_token_count", "completion_token_count", "total_token_count")
GENERATION_COUNTS = (*TOKEN_METRICS, "conversation_length")
# Keyword arguments that are metrics or carry the error, never call metadata.
_NOT_METADATA = frozenset({*GENERATION_COUNTS, "error", "metadata", "timestamp", "scores", "metric", "value"})

Point = tuple[str, float, float, "dict[str, Any] | None"]
_UNCHECKED: Any = object()


def _number(raw: Any, argument: str) -> float:
    kind = type(raw)
    if kind is int and -(2**53) <= raw <= 2**53:
        return raw  # type: ignore[no-any-return]  # an int stays an int, as afterimage wrote it
    if kind is float and raw - raw == 0.0:  # finite
        return raw  # type: ignore[no-any-return]
    return check_value(raw, argument)  # also ints past float's range: a ValueError naming the argument


def call_metadata(kwargs: dict[str, Any], now: float) -> tuple[float, dict[str, Any] | None]:
    """The metadata attached to every metric of one call, and the call's time.

    Scalar keyword arguments (model_name, finish_reason, operation,
    component, ...) and the items of a ``metadata=`` dict become metadata;
    a ``timestamp`` keyword or metadata key sets the time. Every keyword is
    checked here, in the caller's thread: the others go to the log record,
    so they must be writable too. Plain values (ASCII text, int64, floats,
    bools) take a type check each; the result is interned, so every call
    with the same model, operation and reason shares one dict.
    """
    ts = now
    meta: dict[str, Any] = {}
    extra = kwargs.get("metadata")
    if extra is not None:
        ts, checked = check_metadata(extra, now)  # a repeated dict: one hash (interned)
        if checked:
            meta.update(checked)
    others: dict[str, Any] | None = None
    for key, value in kwargs.items():
        if key in _NOT_METADATA:
            continue
        kind = type(value)
        if kind is str:
            if value.isascii() and key.isascii():
                meta[key] = value
                continue
        elif kind is float or kind is bool:
            if key.isascii():
                meta[key] = value
                continue
        elif kind is int:
            if INT64_MIN <= value <= INT64_MAX and key.isascii():
                meta[key] = value
                continue
        elif value is None:
            continue  # written in the log record as null, never metadata
        else:
            if others is None:
                others = {}
            others[key] = value  # written to the log record only
            continue
        _, checked = check_metadata({key: value}, now, "keyword")  # text with a lone surrogate, an int past 64 bits
        meta.update(checked or {})
    error = kwargs.get("error")
    if error is not None and not isinstance(error, BaseException):
        others = others or {}
        others["error"] = error
    if others:
        check_json_data(others, "keyword")
    stamp = kwargs.get("timestamp")
    if stamp is not None:
        ts = to_epoch(stamp, "timestamp")
    # Every call with the same model, operation and reason shares one dict: the store and the
    # files then encode it once (see check_metadata), not once a call.
    return ts, intern_metadata(meta) if meta else None


def generation_points(
    duration: Any, success: Any, kwargs: dict[str, Any], now: float, checked_meta: Any = _UNCHECKED
) -> tuple[float, list[Point]]:
    """Validate a track_generation call and return its time and points.

    ``checked_meta``: the call's metadata when the caller already has it checked
    (a tracked call whose model, reason and metadata were seen before): the
    keyword checks are skipped and the points are stamped ``now``.
    """
    duration = _number(duration, "duration")
    if checked_meta is _UNCHECKED:
        ts, meta = call_metadata(kwargs, now)
    else:
        ts, meta = now, checked_meta
    # afterimage recorded error_rate only when an `error` keyword was given,
    # so its mean was not a rate; here every call records 0 or 1.
    if success:
        points: list[Point] = [
            ("generation_time", duration, ts, meta),
            ("success_rate", 1.0, ts, meta),
            ("error_rate", 1.0 if kwargs.get("error") else 0.0, ts, meta),
        ]
    else:
        points = [
            ("generation_time", duration, ts, meta),
            ("success_rate", 0.0, ts, meta),
            ("error_rate", 1.0, ts, meta),
        ]
    append = points.append
    model = kwargs.get("model_name")
    if model is not None:
        name = _MODEL_USAGE.get(model) if type(model) is str else None
        append((name or _derived_name(_MODEL_USAGE, "model_usage:", model), 1.0, ts, meta))
    reason = kwargs.get("finish_reason")
    if reason is not None:
        name = _FINISH_REASON.get(reason) if type(reason) is str else None
        append((name or _derived_name(_FINISH_REASON, "finish_reason:", reason), 1.0, ts, meta))
    for key in GENERATION_COUNTS:
        raw = kwargs.get(key)
        if raw is not None:
            if type(raw) is not int or not -(2**53) <= raw <= 2**53:
                raw = _number(raw, key)
            append((key, raw, ts, meta))
    return ts, points


_MODEL_USAGE: dict[str, str] = {}
_FINISH_REASON: dict[str, str] = {}


def _derived_name(cache: dict[str, str], prefix: str, value: Any) -> str:
    """``model_usage:<model>`` and friends, built once per value (a bounded cache)."""
    if type(value) is not str:
        return f"{prefix}{value}"
    if len(cache) > 4096:
        cache.clear()
    name = cache[value] = f"{prefix}{value}"
    return name


def evaluation_points(
    duration: Any, success: Any, evaluator_type: Any, scores: Any, kwargs: dict[str, Any], now: float
) -> tuple[float, list[Point]]:
    """Validate a track_evaluation call and return its time and points."""
    duration = check_value(duration, "duration")
    if not isinstance(evaluator_type, str) or not evaluator_type:
        raise TypeError(f"evaluator_type must be a non-empty string, got {evaluator_type!r:.80}")
    check_text(evaluator_type, "evaluator_type")
    if not isinstance(scores, dict):
        raise TypeError(
            f"scores must be a dict of name to number (or {{'score', 'feedback'}}), got {type(scores).__name__}"
        )
    ts, meta = call_metadata(kwargs, now)
    base = dict(meta or {}, evaluator_type=evaluator_type)
    points: list[Point] = [("evaluation_time", duration, ts, dict(base, success=bool(success)))]
    for score_name, score in scores.items():
        feedback = score.get("feedback") if isinstance(score, dict) else None
        value = score.get("score", 0) if isinstance(score, dict) else score
        if feedback is not None:
            _, checked = check_metadata({"feedback": feedback}, ts, f"scores[{score_name!r}]")
            feedback = (checked or {}).get("feedback")
        score_meta = dict(base, feedback=feedback)  # null when none was given, as afterimage wrote it
        name = check_name(f"evaluation_score_{score_name}", f"scores key {score_name!r}")
        points.append((name, check_value(value, f"scores[{score_name!r}]"), ts, score_meta))
    error_rate = 1 if (not success or kwargs.get("error")) else 0  # an int, as afterimage recorded it
    points.append(("evaluation_error_rate", error_rate, ts, base))
    for key in TOKEN_METRICS:
        raw = kwargs.get(key)
        if raw is not None:
            points.append((key, check_value(raw, key), ts, base))
    return ts, points


def log_data(kwargs: dict[str, Any], duration: float, success: Any, timestamp: str, **fields: Any) -> dict[str, Any]:
    """The ``data`` of the log record a tracking call writes (afterimage's shape, its ``timestamp`` first)."""
    data = {"timestamp": timestamp, "duration": duration, "success": success, **fields, **kwargs}
    error = kwargs.get("error")
    if error is not None and isinstance(error, BaseException):
        data["error"] = error_text(error)
        data["error_type"] = type(error).__name__
    return data


def error_text(error: BaseException, limit: int = 2000) -> str:
    """An exception's text as any file can hold it: never raising, lone surrogates escaped, at most ``limit`` characters."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the original error
        text = f"<unprintable {type(error).__name__}>"
    text = safe_text(text)
    return text if len(text) <= limit else text[:limit] + "..."
