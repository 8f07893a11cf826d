"""``monitor.attach(generator)``: monitoring for any generator object in one line.

A generator that already talks to a monitor (afterimage's generators take
``monitor=`` and keep it as ``self.monitor``) just gets this one. Any other
object gets its public generation methods wrapped in ``track`` on the
instance (the class is untouched): ``generate*``, ``run``, ``evaluate*``,
``complete``, ``chat``, ``embed*``, ``retrieve*``... each with a matching
span type. Objects it holds as attributes that look like LLM clients (they
have ``complete``, ``chat``, ``invoke``, ``generate_content`` or their async
``a``-forms) get those methods tracked as LLM calls, so token usage is read
from their responses. Sync and async methods both work; generator functions
are left alone (a span cannot follow a consumer's iteration).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from genmon.monitor.tracking.track import tracked_function
from genmon.records.spans import check_span_type

if TYPE_CHECKING:
    from genmon.monitor.tracking.track import SpanRecorder

# Method name (exactly, or followed by "_...") to span type, first match wins.
_GENERATOR_VERBS: tuple[tuple[str, str], ...] = (
    ("evaluate", "EVALUATOR"),
    ("aevaluate", "EVALUATOR"),
    ("score", "EVALUATOR"),
    ("retrieve", "RETRIEVER"),
    ("aretrieve", "RETRIEVER"),
    ("embed", "EMBEDDING"),
    ("aembed", "EMBEDDING"),
    ("rerank", "RERANKER"),
    ("parse", "PARSER"),
    ("chat", "CHAT_MODEL"),
    ("achat", "CHAT_MODEL"),
    ("complete", "LLM"),
    ("acomplete", "LLM"),
    ("invoke", "LLM"),
    ("ainvoke", "LLM"),
    ("predict", "LLM"),
    ("generate", "CHAIN"),
    ("agenerate", "CHAIN"),
    ("run", "CHAIN"),
    ("arun", "CHAIN"),
)
_CLIENT_VERBS: dict[str, str] = {
    "complete": "LLM",
    "acomplete": "LLM",
    "chat": "CHAT_MODEL",
    "achat": "CHAT_MODEL",
    "invoke": "LLM",
    "ainvoke": "LLM",
    "generate_content": "LLM",
}
_ATTACHED = "__genmon_attached__"
_NOT_CLIENTS = (str, bytes, int, float, bool, list, tuple, dict, set, frozenset, type(None))


def span_type_for(method_name: str) -> str | None:
    """The span type a generator method's name suggests, or None when it is no generation method."""
    for verb, span_type in _GENERATOR_VERBS:
        if method_name == verb or method_name.startswith(verb + "_"):
            return span_type
    return None


# Makes the tracked version of a bound method: (method, name, span type, component) -> wrapper.
Wrap = Callable[[Callable[..., Any], str, str, str], Callable[..., Any]]


def bound_wrapper(recorder: SpanRecorder) -> Wrap:
    """How ``monitor.attach`` wraps: every call tracked by this monitor's recorder."""

    def wrap(method: Callable[..., Any], name: str, span_type: str, component: str) -> Callable[..., Any]:
        tracker = recorder.tracker(name, span_type, None, component, None)
        return tracked_function(recorder, tracker, method, model_from)

    return wrap


def attach(
    wrap: Wrap,
    monitor: Any,
    generator: Any,
    methods: Iterable[str] | None = None,
    span_type: str | None = None,
    depth: int = 1,
) -> list[str]:
    """Attach ``monitor`` to ``generator``; returns the names (attribute paths) of the methods it now tracks.

    Args:
        wrap: makes each tracked method (``bound_wrapper(recorder)``, or the default monitor's late-bound one).
        monitor: set as ``.monitor`` on the objects that have that attribute (None: such an object is an error).
        generator: any object.
        methods: track exactly these methods (also on a generator with a
            ``monitor`` attribute); default: the generation methods found by name.
        span_type: one span type for every method given (default: from each name).
        depth: how many attribute steps down to look for LLM clients (0: none). The
            objects on the way (a program's modules) get their generation methods
            tracked too; lists, tuples, sets and dict values do not count as a step.
            Each object is visited once, so cycles and shared objects are wrapped once.
    """
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(f"depth must be a whole number >= 0, got {depth!r}")
    if methods is None and _has_monitor_slot(generator):
        _set_monitor(generator, monitor, type(generator).__name__)
        return []
    forced = check_span_type(span_type) if span_type is not None else None
    component = type(generator).__name__
    tracked: list[str] = []
    if methods is not None:
        for name in methods:
            if not callable(getattr(generator, name, None)):
                raise AttributeError(f"{component} has no method {name!r} to track")  # noqa: TRY004 - a missing attribute
            if _wrap(wrap, generator, name, forced or span_type_for(name) or "CHAIN", component):
                tracked.append(name)
        return tracked
    tracked += _wrap_generation_methods(wrap, generator, "", forced)
    tracked += _walk(wrap, monitor, generator, depth)
    if not tracked:
        raise ValueError(
            f"found no generation method on {component} (generate*, run, evaluate*, complete, chat...): "
            "pass methods=[...] to name them"
        )
    return tracked


def _wrap_generation_methods(wrap: Wrap, obj: Any, path: str, forced: str | None = None) -> list[str]:
    component = type(obj).__name__
    tracked = []
    for name in _public_methods(obj):
        kind = span_type_for(name)
        if kind is not None and _wrap(wrap, obj, name, forced or kind, component):
            tracked.append(path + name)
    return tracked


def _walk(wrap: Wrap, monitor: Any, root: Any, depth: int) -> list[str]:
    """Track the clients (and the components on the way to them) up to ``depth`` attribute steps below ``root``."""
    tracked: list[str] = []
    seen = {id(root)}
    level = [("", root)]
    for step in range(1, depth + 1):
        below = []
        for path, obj in level:
            for where, value in _held_objects(obj, path, seen):
                if _looks_like_client(value):
                    component = type(value).__name__
                    for name, kind in _CLIENT_VERBS.items():
                        if callable(getattr(value, name, None)) and _wrap(wrap, value, name, kind, component):
                            tracked.append(f"{where}.{name}")
                elif step < depth:  # a component: tracked, and looked into at the next step
                    if _has_monitor_slot(value):
                        _set_monitor(value, monitor, where)  # it reports through its monitor itself
                        continue
                    tracked += _wrap_generation_methods(wrap, value, where + ".")
                    below.append((where, value))
        level = below
    return tracked


def _held_objects(obj: Any, path: str, seen: set[int]) -> list[tuple[str, Any]]:
    """The objects ``obj`` holds in its attributes (inside containers too), each once across the whole walk."""
    found: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [
        (f"{path}.{name}" if path else name, value) for name, value in getattr(obj, "__dict__", {}).items()
    ]
    stack.reverse()
    while stack:
        where, value = stack.pop()
        if id(value) in seen:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            seen.add(id(value))
            stack.extend(reversed([(f"{where}[{i}]", item) for i, item in enumerate(value)]))
        elif isinstance(value, dict):
            seen.add(id(value))
            stack.extend(reversed([(f"{where}[{key!r}]", item) for key, item in value.items()]))
        elif _is_component(value):
            seen.add(id(value))
            found.append((where, value))
    return found


def _is_component(value: Any) -> bool:
    """An object of the application's (or of a library's, such as an LLM client), not data, code or the standard library."""
    if isinstance(value, _NOT_CLIENTS) or inspect.isroutine(value) or inspect.ismodule(value) or inspect.isclass(value):
        return False
    if hasattr(value, "track_generation"):
        return False  # a monitor (genmon's or afterimage's), not a client
    module = (getattr(type(value), "__module__", None) or "").partition(".")[0]
    return module not in sys.stdlib_module_names and module != "builtins"


def _looks_like_client(value: Any) -> bool:
    return any(callable(getattr(value, verb, None)) for verb in _CLIENT_VERBS)


def _set_monitor(obj: Any, monitor: Any, where: str) -> None:
    if monitor is None:
        raise RuntimeError(
            f"{where} reports through its monitor attribute: call genmon.enable() before genmon.attach(), "
            "or use monitor.attach()"
        )
    obj.monitor = monitor


def detach(obj: Any, depth: int = 8) -> int:
    """Remove the wrappers ``attach`` put on ``obj`` and on what it holds (``depth`` steps down); returns how many."""
    removed = 0
    seen = {id(obj)}
    level = [("", obj)]
    targets = [obj]
    for _ in range(depth):
        level = _held_objects_of(level, seen)
        targets += [value for _, value in level]
    for target in targets:
        for name, value in list(getattr(target, "__dict__", {}).items()):
            if getattr(value, _ATTACHED, False):
                delattr(target, name)
                removed += 1
    return removed


def _held_objects_of(level: list[tuple[str, Any]], seen: set[int]) -> list[tuple[str, Any]]:
    return [found for path, obj in level for found in _held_objects(obj, path, seen)]


def _has_monitor_slot(generator: Any) -> bool:
    try:
        inspect.getattr_static(generator, "monitor")
    except AttributeError:
        return False
    return True


def _public_methods(obj: Any) -> list[str]:
    names = []
    for name in dir(obj):
        if name.startswith("_"):
            continue
        try:
            value = inspect.getattr_static(obj, name)
        except AttributeError:
            continue
        if isinstance(value, property):
            continue  # never run a property's code just to look at it
        if callable(getattr(obj, name, None)):
            names.append(name)
    return names


def _wrap(wrap: Wrap, obj: Any, name: str, span_type: str, component: str) -> bool:
    """Track ``obj.name`` on the instance; True when it is tracked (now or from an earlier attach)."""
    method = getattr(obj, name)
    if getattr(method, _ATTACHED, False):
        return True  # attached before: tracked already, never wrapped twice
    function = inspect.unwrap(getattr(method, "__func__", method))
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        return False
    wrapper = wrap(method, name, span_type, component)
    setattr(wrapper, _ATTACHED, True)
    try:
        setattr(obj, name, wrapper)  # on the instance: the class and other instances are untouched
    except (AttributeError, TypeError):
        return False  # __slots__ without __dict__, or a read-only attribute
    return True


def model_from(kwargs: dict[str, Any]) -> str | None:
    """The model a client call names in its keywords (``model=`` or ``model_name=``), if any."""
    model = kwargs.get("model") or kwargs.get("model_name")
    return model if isinstance(model, str) and model else None
