"""The points that track_generation and track_evaluation record (afterimage's metric names)."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from genmon.records.log_records import LogShape, common_record, log_shape
from genmon.records.validation import (
    INT64_MAX,
    INT64_MIN,
    check_json_data,
    check_metadata,
    check_name,
    check_text,
    check_value,
    intern_metadata,
    pack_metadata,
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


def common_generation_points(duration: Any, success: Any, kwargs: dict[str, Any], now: float) -> Any:
    """(point group, log record) of a common track_generation call, stamped ``now``; None when it needs the full check.

    Common: text keywords (model, reason, operation...), a ``metadata`` dict
    of text, int token counts, no ``error`` or ``timestamp``. Such a call was
    checked in full once (``remember_generation``); later calls with the same
    keywords and text are found by one hash. Every other call returns None
    and takes ``generation_points``.
    """
    shape = _SHAPES.get(tuple(kwargs))
    if shape is None:
        return None
    texts, counts_of, n = shape
    extra = kwargs["metadata"] if n < 0 else None
    try:
        known = _KNOWN_CALLS.get((shape, texts(kwargs), None if extra is None else tuple(extra.items())))
    except (TypeError, AttributeError):  # unhashable keyword values, a metadata that is no dict
        return None
    if known is None:
        return None
    kind = type(duration)
    if not ((kind is float and duration - duration == 0.0) or (kind is int and -(2**53) <= duration <= 2**53)):
        return None
    counts = counts_of(kwargs)
    for count in counts:
        if type(count) is not int or not -(2**53) <= count <= 2**53:
            return None
    names, ones, meta, log = known
    values = (duration, 1.0, 0.0, *ones, *counts) if success else (duration, 0.0, 1.0, *ones, *counts)
    # point_group(...), inline (a call has 3 points or more), and the call's log record
    return (names, values, now, meta, len(names)), common_record(now, log, duration, success, values)


def remember_generation(kwargs: dict[str, Any], points: list[Point]) -> None:
    """Let ``common_generation_points`` answer later calls like this one, checked in full, when it is common."""
    keys = tuple(kwargs)
    if keys in _SHAPES or len(_SHAPES) >= 256:
        shape = _SHAPES.get(keys)
    else:
        shape = _SHAPES[keys] = _shape(keys)
    if shape is None:
        return
    texts, counts_of, n = shape
    extra = kwargs["metadata"] if n < 0 else None
    text_values = texts(kwargs)
    if not all(type(v) is str for v in text_values) or (
        extra is not None
        and (type(extra) is not dict or not all(type(k) is str and type(v) is str for k, v in extra.items()))
    ):
        return  # numbers compare equal across types (1 == 1.0 == True): their metadata is checked every call
    if extra is not None and "timestamp" in extra:
        return  # the metadata sets the call's time: the full check reads it every call
    counts = counts_of(kwargs)
    if len(points) != 3 + sum(1 for key in ("model_name", "finish_reason") if kwargs.get(key) is not None) + len(
        counts
    ) or any(type(c) is not int for c in counts):
        return
    ones = (1.0,) * (len(points) - 3 - len(counts))
    if len(_KNOWN_CALLS) >= 4096:
        _KNOWN_CALLS.clear()  # bounded: calls whose text changes every time (ids) never hit anyway
    key = (shape, text_values, None if extra is None else tuple(extra.items()))
    log = log_shape(kwargs, [key for key in GENERATION_COUNTS if key in kwargs])  # the order counts_of reads
    _KNOWN_CALLS[key] = (tuple(p[0] for p in points), ones, pack_metadata(points[0][3]), log)


_Shape = tuple[Any, Any, int]
# Keyword names in call order -> (getter of the text keywords' values, getter of the counts, sign);
# None for names the common path does not take (error, timestamp, a count missing).
_SHAPES: dict[tuple[str, ...], _Shape | None] = {}
# Keywords a common call never has: each is read every call (its log record keeps only the
# text keywords, the counts and a text metadata dict, built into its shape once).
_UNCOMMON = _NOT_METADATA.difference(GENERATION_COUNTS, {"metadata"})
_KNOWN_CALLS: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[float, ...], Any, LogShape]] = {}


def _shape(keys: tuple[str, ...]) -> _Shape | None:
    if not all(type(k) is str and k.isascii() for k in keys) or not _UNCOMMON.isdisjoint(keys):
        return None
    texts = [k for k in keys if k not in _NOT_METADATA]
    counts = [k for k in GENERATION_COUNTS if k in keys]
    # model_usage and finish_reason come before the counts, in that order, whatever the keyword order
    return (_tuple_getter(texts), _tuple_getter(counts), -1 if "metadata" in keys else 1)


def _tuple_getter(keys: list[str]) -> Any:
    if not keys:
        return lambda kwargs: ()
    if len(keys) == 1:
        key = keys[0]
        return lambda kwargs: (kwargs[key],)
    return itemgetter(*keys)


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


def log_keywords(kwargs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A tracking call's keywords as its log record's data holds them, after its time, duration and success.

    ``fields`` come first; an exception given as ``error`` becomes its text
    and ``error_type`` here, in the caller's thread, so the queued record
    keeps no traceback alive. The log worker builds the data
    (``delivery.LogRecords``), afterimage's shape.
    """
    keywords = {**fields, **kwargs} if fields else kwargs
    error = kwargs.get("error")
    if error is not None and isinstance(error, BaseException):
        keywords = {**keywords, "error": error_text(error), "error_type": type(error).__name__}
    return keywords


def error_text(error: BaseException, limit: int = 2000) -> str:
    """An exception's text as any file can hold it: never raising, lone surrogates escaped, at most ``limit`` characters."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the original error
        text = f"<unprintable {type(error).__name__}>"
    text = safe_text(text)
    return text if len(text) <= limit else text[:limit] + "..."
