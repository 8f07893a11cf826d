"""One switch: a process-wide default monitor that ``genmon.track``, ``genmon.attach`` and ``genmon.emit`` record to.

``genmon.enable(...)`` builds it with ``GenerationMonitor``'s keywords;
until then (and after ``genmon.disable()``) every module-level call does
nothing and costs a global lookup and a function call: a decorated function
calls the function, a ``with genmon.track(...)`` block gets a shared
``NoOpSpan`` and no span is made, nothing is queued.

Decorators and ``attach`` bind late: the monitor is looked up at each call,
so a function decorated at import time, before ``enable()``, is tracked once
a monitor is enabled. The default monitor is a monitor like any other: it
drains at exit (``genmon.monitor.lifecycle``) and on SIGTERM. Once it is
closed, the module-level calls do nothing again; they never raise because
monitoring is off or closed.

Enabling twice: the same arguments give the same monitor back (a re-run
notebook cell, two libraries enabling with the defaults); other arguments
raise ``AlreadyEnabledError`` (``disable()`` first).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from genmon.errors import AlreadyEnabledError, MonitorClosedError

if TYPE_CHECKING:
    from genmon.monitor.generation_monitor import GenerationMonitor
    from genmon.monitor.tracking.track import Span, Tracker

__all__ = [
    "DefaultTracker",
    "NoOpSpan",
    "attach",
    "current_monitor",
    "disable",
    "emit",
    "enable",
    "is_enabled",
    "track",
]

F = TypeVar("F", bound=Callable[..., Any])
_lock = threading.Lock()
_monitor: GenerationMonitor | None = None  # read without the lock on every call: one global lookup
_arguments: tuple[tuple[Any, ...], dict[str, Any]] | None = None
_checked_event_names: set[str] = set()


def enable(*args: Any, **keywords: Any) -> GenerationMonitor:
    """Build the process-wide default monitor (``GenerationMonitor``'s arguments) and return it.

    Called again while it is open: with the same arguments, returns the same
    monitor; with others, raises ``AlreadyEnabledError``.

    Example:
        >>> monitor = genmon.enable(log_dir="runs/today", capture_io=True)  # doctest: +SKIP
        >>> @genmon.track("answer")  # doctest: +SKIP
        ... def answer(question): ...
    """
    global _monitor, _arguments
    with _lock:
        current = _monitor
        if current is not None and not current.closed:
            if _same((args, keywords), _arguments):
                return current
            raise AlreadyEnabledError(
                f"genmon is already enabled (log_dir {current.log_dir}) with other arguments: "
                "call genmon.disable() first, or genmon.current_monitor() to use it"
            )
        from genmon.monitor.generation_monitor import GenerationMonitor

        monitor = GenerationMonitor(*args, **keywords)
        _monitor, _arguments = monitor, (args, keywords)
        return monitor


def disable(timeout: float | None = None) -> bool:
    """Close the default monitor (draining it, like ``close(timeout)``) and switch monitoring off; True when all was delivered."""
    global _monitor, _arguments
    with _lock:
        monitor, _monitor, _arguments = _monitor, None, None
    return True if monitor is None else monitor.close(timeout)


def current_monitor() -> GenerationMonitor | None:
    """The default monitor, or None when none is enabled (or it was closed)."""
    monitor = _monitor
    return None if monitor is None or monitor.closed else monitor


def is_enabled() -> bool:
    """True while a default monitor is enabled and open."""
    return current_monitor() is not None


def _same(given: Any, kept: Any) -> bool:
    try:
        return bool(given == kept)
    except Exception:  # noqa: BLE001 - arguments that cannot be compared (arrays...) are not the same
        return False


# -- track ------------------------------------------------------------------------------------------
class NoOpSpan:
    """What ``with genmon.track(...) as span`` gives while monitoring is off: every method does nothing.

    One shared instance; ``set_result`` returns the response it is given.
    """

    __slots__ = ()
    call_id = parent_call_id = trace_id = model_name = component = duration_s = success = None
    inputs = outputs = None

    def set_usage(self, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> None:
        pass

    def set_result(self, response: Any) -> Any:
        return response

    def set_cost(self, usd: float) -> None:
        pass

    def set_model(self, model_name: str) -> None:
        pass

    def set_metadata(self, **items: Any) -> None:
        pass

    def set_inputs(self, inputs: Any) -> None:
        pass

    def set_outputs(self, outputs: Any) -> None:
        pass

    def __bool__(self) -> bool:
        return False  # `if span:` tells a real span from this one

    def __repr__(self) -> str:
        return "<NoOpSpan: genmon is not enabled>"


NOOP_SPAN = NoOpSpan()


class DefaultTracker:
    """What ``genmon.track(...)`` returns: a decorator and a (sync or async) context manager on the default monitor.

    The arguments are checked when it is made; the monitor is looked up at
    each use. Like ``monitor.track``'s tracker it keeps no per-call state, so
    one may be shared by threads and tasks.
    """

    __slots__ = ("_arguments", "_bound")

    def __init__(self, arguments: tuple[Any, ...]) -> None:
        self._arguments = arguments
        self._bound: tuple[GenerationMonitor, Tracker] | None = None

    def _tracker(self, monitor: GenerationMonitor) -> Tracker:
        bound = self._bound
        if bound is None or bound[0] is not monitor:
            operation, span_type, model_name, component, metadata, capture_io = self._arguments
            tracker = monitor.track(
                operation,
                span_type=span_type,
                model_name=model_name,
                component=component,
                capture_io=capture_io,
                **(metadata or {}),
            )
            bound = self._bound = (monitor, tracker)
        return bound[1]

    def __enter__(self) -> Span | NoOpSpan:
        monitor = _monitor
        if monitor is None:
            return NOOP_SPAN
        try:
            return self._tracker(monitor).__enter__()
        except MonitorClosedError:
            return NOOP_SPAN

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        bound = self._bound
        if bound is None:
            return
        tracker = bound[1]
        from genmon.monitor.tracking.span import CURRENT  # loaded already: a monitor was bound

        current = CURRENT.get()
        # Only the block that opened a span closes it: one entered while monitoring was off opened none.
        if current is not None and any(s is current for s in tracker._open):
            tracker.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> Span | NoOpSpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, fn: F) -> F:
        """Decorate a sync or async function: tracked by the monitor enabled at each call, else called as it is."""
        from genmon.monitor.tracking.arguments import check_decoratable

        return late_bound(check_decoratable(fn), self._tracker)  # type: ignore[return-value]


def track(
    operation: Any,
    *,
    span_type: str = "LLM",
    model_name: str | None = None,
    component: str | None = None,
    capture_io: bool | None = None,
    step: int | None = None,
    **metadata: Any,
) -> Any:
    """``monitor.track`` on the default monitor: a decorator (``@genmon.track`` bare too) and a context manager.

    While no monitor is enabled it does nothing (see the module docstring).
    ``step`` is checked as ``monitor.track`` checks it, even while off.
    """
    if step is not None:  # the step travels as the points' and the span's "step" metadata, as with monitor.track
        from genmon.records.steps import with_step

        metadata = with_step(metadata, step)
    check = _check_track_arguments or _load_check()
    if callable(operation) and not isinstance(operation, str):  # bare @genmon.track
        return DefaultTracker(check(operation.__qualname__, span_type, model_name, component, metadata, capture_io))(
            operation
        )
    return DefaultTracker(check(operation, span_type, model_name, component, metadata, capture_io))


_check_track_arguments: Callable[..., tuple[Any, ...]] | None = None


def _load_check() -> Callable[..., tuple[Any, ...]]:
    # Loaded with the first genmon.track(...), not with `import genmon`; an import statement per call costs ~1 us.
    global _check_track_arguments
    from genmon.monitor.tracking.arguments import check_track_arguments

    _check_track_arguments = check_track_arguments
    return check_track_arguments


def late_bound(
    fn: Callable[..., Any],
    tracker_for: Callable[[GenerationMonitor], Tracker],
    model_from: Callable[[dict[str, Any]], str | None] | None = None,
) -> Callable[..., Any]:
    """``fn`` tracked by the default monitor of each call (``tracker_for(monitor)`` makes its tracker); ``fn`` as it
    is while none is enabled."""
    import inspect

    from genmon.monitor.tracking.track import tracked_function

    bound: list[tuple[Any, Any]] = [(None, None)]  # (monitor, its tracked fn), replaced whole: read without a lock

    def tracked_by(monitor: GenerationMonitor) -> Callable[..., Any]:
        owner, tracked = bound[0]
        if owner is not monitor:
            tracker = tracker_for(monitor)
            tracked = tracked_function(tracker.recorder, tracker, fn, model_from, untracked_when_closed=True)
            bound[0] = (monitor, tracked)
        return tracked  # type: ignore[no-any-return]

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def call_async(*args: Any, **kwargs: Any) -> Any:
            monitor = _monitor
            if monitor is None:
                return await fn(*args, **kwargs)
            return await tracked_by(monitor)(*args, **kwargs)

        return call_async

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        monitor = _monitor
        if monitor is None:
            return fn(*args, **kwargs)
        return tracked_by(monitor)(*args, **kwargs)

    return call


# -- attach and emit ------------------------------------------------------------------------------------
def attach(obj: Any, *, methods: list[str] | None = None, span_type: str | None = None, depth: int = 1) -> Any:
    """``monitor.attach`` for the default monitor, bound late: attached before ``enable()``, tracked after it.

    An object reporting through a ``monitor`` attribute of its own (afterimage's
    generators) gets the default monitor, which must be enabled first.
    """
    from genmon.monitor.tracking.attach import attach as attach_to
    from genmon.monitor.tracking.attach import model_from

    def wrap(method: Callable[..., Any], name: str, kind: str, component: str) -> Callable[..., Any]:
        return late_bound(method, lambda monitor: monitor.track(name, span_type=kind, component=component), model_from)

    attach_to(wrap, current_monitor(), obj, methods, span_type, depth)
    return obj


def emit(name: str, /, *, source: str | None = None, **data: Any) -> None:
    """``monitor.emit`` on the default monitor; checks the name and does nothing else while none is enabled."""
    if name not in _checked_event_names:
        from genmon.monitor.tracking.events import check_event_name

        check_event_name(name, emitting=True)
        if len(_checked_event_names) < 10_000:
            _checked_event_names.add(name)
    monitor = current_monitor()
    if monitor is not None:
        try:
            monitor.emit(name, source=source or sys._getframe(1).f_globals.get("__name__", "?"), **data)
        except MonitorClosedError:
            pass  # closed since the look-up: monitoring is off
