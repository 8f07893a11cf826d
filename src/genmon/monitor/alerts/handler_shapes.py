"""The two shapes an alert handler may have: afterimage's ``(alert)`` and mtaio's ``(metric, value, threshold)``.

The shape is read from the handler's signature once, when it is registered:
a handler that accepts one positional argument gets the ``Alert``; one that
accepts three gets mtaio's arguments, for firing alerts only (mtaio calls
its handlers when a threshold is exceeded, never when it recovers). A
signature that fits neither is refused with a ``TypeError`` at registration.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

from genmon.monitor.engine.isolation import is_coroutine_function
from genmon.records.types import Alert

__all__ = ["AlertHandlerShapes", "as_alert_handler", "takes_values", "unwrapped"]

AlertHandler = Callable[[Alert], Any]


def _binds(signature: inspect.Signature, count: int) -> bool:
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def takes_values(handler: Any, argument: str = "alert handler") -> bool:
    """True for mtaio's ``(metric, value, threshold)``, False for ``(alert)``; TypeError for anything else."""
    if not callable(handler):
        raise TypeError(f"{argument} must be callable, got {type(handler).__name__} {handler!r:.80}")
    try:
        signature = inspect.signature(handler)
    except (TypeError, ValueError):  # a builtin without a signature (print): afterimage's shape
        return False
    if _binds(signature, 1):
        return False
    if _binds(signature, 3):
        return True
    name = getattr(handler, "__qualname__", type(handler).__name__)
    bare = signature.replace(
        parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
        return_annotation=signature.empty,
    )
    raise TypeError(
        f"{argument} {name}{bare} must take one argument (the Alert) or mtaio's three (metric, value, threshold)"
    )


def unwrapped(handler: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``functools.wraps(handler)`` (its name and docs) without ``__wrapped__``.

    ``inspect.signature`` follows ``__wrapped__``: a wrapper taking the Alert
    around a ``(metric, value, threshold)`` handler would read as one of
    those and be adapted twice.
    """

    def decorate(wrapper: Callable[..., Any]) -> Callable[..., Any]:
        functools.update_wrapper(wrapper, handler)
        del wrapper.__wrapped__  # type: ignore[attr-defined]
        return wrapper

    return decorate


def values_of(alert: Alert) -> tuple[Any, Any, Any] | None:
    """mtaio's ``(metric, value, threshold)`` for a firing alert; None for a resolved one."""
    data = alert.data
    if data.get("state") == "resolved":
        return None
    metric = data.get("alias") or data.get("metric") or alert.name
    return metric, data.get("value"), data.get("threshold")


def as_alert_handler(handler: Any, argument: str = "alert handler") -> AlertHandler:
    """``handler`` itself when it takes the Alert, else a wrapper (sync or async like it) passing mtaio's three."""
    if not takes_values(handler, argument):
        return handler  # type: ignore[no-any-return]
    if is_coroutine_function(handler):

        @unwrapped(handler)
        async def call_async(alert: Alert) -> Any:
            values = values_of(alert)
            return None if values is None else await handler(*values)

        return call_async

    @unwrapped(handler)
    def call(alert: Alert) -> Any:
        values = values_of(alert)
        return None if values is None else handler(*values)

    return call


class AlertHandlerShapes:
    """The callable to run for each handler of a live list, its shape read once per handler object.

    A handler appended to ``monitor.alert_handlers`` after construction is
    read at its first alert; one that fits no shape raises there, and the
    alert manager counts that as the handler's failure.
    """

    def __init__(self) -> None:
        self._adapted: dict[int, tuple[Any, AlertHandler]] = {}
        self._lock = threading.Lock()

    def __call__(self, handler: Any) -> AlertHandler:
        with self._lock:
            entry = self._adapted.get(id(handler))
            if entry is not None and entry[0] is handler:
                return entry[1]
        adapted = as_alert_handler(handler)
        with self._lock:
            # The entry keeps the handler alive, so its id is never reused by another object.
            self._adapted[id(handler)] = (handler, adapted)
        return adapted
