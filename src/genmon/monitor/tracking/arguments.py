"""``track``'s arguments: checked once, when a tracker is made, with a clear error naming the bad one."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from genmon.monitor.tracking.span import RESERVED_KEYS
from genmon.records.spans import SPAN_TYPES, check_span_type
from genmon.records.validation import check_metadata, check_text

__all__ = ["check_decoratable", "check_track_arguments"]

F = TypeVar("F", bound=Callable[..., Any])
_CANONICAL_TYPES = frozenset(SPAN_TYPES)


def check_track_arguments(
    operation: Any,
    span_type: Any,
    model_name: Any,
    component: Any,
    metadata: dict[str, Any] | None,
    capture_io: Any,
) -> tuple[str, str, str | None, str | None, dict[str, Any] | None, bool | None]:
    """``track``'s arguments checked (a clear error naming the bad one), the span type made canonical."""
    if (  # the common call, answered in a few flag checks: ASCII names, a canonical type, nothing else
        type(operation) is str
        and operation.isascii()
        and operation
        and span_type in _CANONICAL_TYPES
        and (model_name is None or (type(model_name) is str and model_name.isascii() and model_name))
        and (component is None or (type(component) is str and component.isascii() and component))
        and not metadata
        and (capture_io is None or type(capture_io) is bool)
    ):
        return operation, span_type, model_name, component, None, capture_io
    if not isinstance(operation, str) or not operation:
        raise TypeError(f"operation must be a non-empty string, got {operation!r:.80}")
    check_text(operation, "operation")
    for argument, value in (("model_name", model_name), ("component", component)):
        if value is not None and (not isinstance(value, str) or not value):
            raise TypeError(f"{argument} must be a non-empty string or None, got {value!r:.80}")
        if value is not None:
            check_text(value, argument)
    checked = None
    if metadata:
        _, checked = check_metadata(metadata, 0.0)
        clash = RESERVED_KEYS.intersection(checked or ())
        if clash:
            raise ValueError(f"metadata keys {sorted(clash)} are track's own arguments")
    if capture_io is not None and not isinstance(capture_io, bool):
        raise TypeError(f"capture_io must be True, False or None (the monitor's setting), got {capture_io!r:.80}")
    return operation, check_span_type(span_type), model_name, component, checked, capture_io


def check_decoratable(fn: F) -> F:
    """``fn`` when ``track`` can decorate it; a generator function cannot (a span cannot follow its consumer)."""
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"track cannot decorate the generator function {fn.__qualname__}: track inside it instead")
    return fn
