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
from collections.abc import Iterable
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


def attach(
    recorder: SpanRecorder,
    monitor: Any,
    generator: Any,
    methods: Iterable[str] | None = None,
    span_type: str | None = None,
    clients: bool = True,
) -> list[str]:
    """Attach ``monitor`` to ``generator``; returns the names of the methods it now tracks.

    Args:
        recorder: the monitor's span recorder.
        monitor: set as ``generator.monitor`` when the generator has that attribute.
        generator: any object.
        methods: track exactly these methods (also on a generator with a
            ``monitor`` attribute); default: the generation methods found by name.
        span_type: one span type for every method given (default: from each name).
        clients: also track the LLM-call methods of the clients it holds.
    """
    if methods is None and _has_monitor_slot(generator):
        generator.monitor = monitor
        return []
    forced = check_span_type(span_type) if span_type is not None else None
    component = type(generator).__name__
    tracked: list[str] = []
    if methods is not None:
        for name in methods:
            if not callable(getattr(generator, name, None)):
                raise AttributeError(f"{component} has no method {name!r} to track")  # noqa: TRY004 - a missing attribute
            if _wrap(recorder, generator, name, forced or span_type_for(name) or "CHAIN", component):
                tracked.append(name)
        return tracked
    for name in _public_methods(generator):
        kind = span_type_for(name)
        if kind is not None and _wrap(recorder, generator, name, forced or kind, component):
            tracked.append(name)
    if clients:
        for attribute, client in _held_clients(generator):
            client_component = type(client).__name__
            for name, kind in _CLIENT_VERBS.items():
                if callable(getattr(client, name, None)) and _wrap(recorder, client, name, kind, client_component):
                    tracked.append(f"{attribute}.{name}")
    if not tracked:
        raise ValueError(
            f"found no generation method on {component} (generate*, run, evaluate*, complete, chat...): "
            "pass methods=[...] to name them"
        )
    return tracked


def detach(obj: Any) -> int:
    """Remove the wrappers ``attach`` put on ``obj`` and the clients it holds; returns how many."""
    removed = 0
    for target in (obj, *(client for _, client in _held_clients(obj))):
        for name, value in list(getattr(target, "__dict__", {}).items()):
            if getattr(value, _ATTACHED, False):
                delattr(target, name)
                removed += 1
    return removed


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


def _held_clients(generator: Any) -> list[tuple[str, Any]]:
    found = []
    for attribute, value in getattr(generator, "__dict__", {}).items():
        if isinstance(value, _NOT_CLIENTS) or inspect.ismodule(value) or inspect.isclass(value) or callable(value):
            continue
        if hasattr(value, "track_generation"):
            continue  # a monitor (genmon's or afterimage's), not a client
        if any(callable(getattr(value, verb, None)) for verb in _CLIENT_VERBS):
            found.append((attribute, value))
    return found


def _wrap(recorder: SpanRecorder, obj: Any, name: str, span_type: str, component: str) -> bool:
    """Track ``obj.name`` on the instance; True when it is tracked (now or from an earlier attach)."""
    method = getattr(obj, name)
    if getattr(method, _ATTACHED, False):
        return True  # attached before: tracked already, never wrapped twice
    function = inspect.unwrap(getattr(method, "__func__", method))
    if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
        return False
    tracker = recorder.tracker(name, span_type, None, component, None)
    wrapper = tracked_function(recorder, tracker, method, _model_from)
    setattr(wrapper, _ATTACHED, True)
    try:
        setattr(obj, name, wrapper)  # on the instance: the class and other instances are untouched
    except (AttributeError, TypeError):
        return False  # __slots__ without __dict__, or a read-only attribute
    return True


def _model_from(kwargs: dict[str, Any]) -> str | None:
    model = kwargs.get("model") or kwargs.get("model_name")
    return model if isinstance(model, str) and model else None
