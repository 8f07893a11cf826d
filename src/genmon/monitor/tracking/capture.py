"""What went into a tracked call and what came out: kept by reference on the caller's thread, serialised on the span worker.

With capture on (``GenerationMonitor(capture_io=True)`` or
``track(..., capture_io=True)``), a tracked function's arguments and its
return value (or exception) travel with its span as ``Pending`` references;
``span.set_inputs`` / ``set_outputs`` do the same for any block. The caller
only copies the top level of list and dict arguments (one ``list.copy()``
each, so a messages list appended to after the call still shows what was
sent); everything deeper is read on the span worker, shortly after the call,
so an object the caller mutates after the call returns can show its later
state there.

The span worker turns each ``Pending`` into a JSON-ready value
(``CapturePolicy.resolve``): arguments bound to their parameter names, objects
converted (``model_dump``, ``_asdict``, dataclass fields, ``to_dict``,
``tolist``, else ``repr``), then the redaction hook, then a cut to
``max_chars`` characters of JSON text that keeps the structure (long strings
end with ``... (N chars)``, long lists and dicts with a count of what was
left out).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from genmon.records.redaction import REDACTED, redact_secrets

__all__ = ["DEFAULT_MAX_CHARS", "REDACTED", "CapturePolicy", "Pending", "jsonable", "redact_secrets"]

DEFAULT_MAX_CHARS = 10_000
MAX_DEPTH = 12  # nesting kept; deeper values become their type name
# The marks a cut leaves, read back when a value is cut again (after redaction) so the counts stay the originals'.
_CUT_TEXT = re.compile(r"\.\.\. \((\d+) chars\)\Z")
_CUT_ITEMS = re.compile(r"\A\.\.\. \((\d+) more items\)\Z")
_CUT_KEYS = re.compile(r"\A(\d+) more keys\Z")


class Pending:
    """A captured value not serialised yet: a call's arguments, a value, or a failure.

    Attributes:
        kind: ``"call"`` (``raw`` is ``(signature or None, args, kwargs)``),
            ``"value"`` or ``"error"`` (the span's exception fields say which).
        raw: what was captured, by reference.
    """

    __slots__ = ("kind", "raw")

    def __init__(self, kind: str, raw: Any) -> None:
        self.kind = kind
        self.raw = raw

    def __repr__(self) -> str:
        return f"<Pending {self.kind}>"


def snapshot(value: Any) -> Any:
    """A one-level copy of a list or dict (what a caller appends to after the call stays out); anything else as is."""
    kind = type(value)
    if kind is list or kind is dict:
        return value.copy()
    return value


def call_inputs(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Pending:
    """The ``Pending`` inputs of a call, its list and dict arguments copied one level deep."""
    return Pending("call", (signature, tuple(snapshot(a) for a in args), {k: snapshot(v) for k, v in kwargs.items()}))


def signature_of(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some C callables have none
        return None


class CapturePolicy:
    """How captured values become JSON: redaction, then a cut to ``max_chars`` characters of JSON text.

    Args:
        max_chars: the JSON text of one captured value (inputs, or outputs) is cut to about this many characters.
        redact: called with each JSON-ready value, returns what is kept (default ``redact_secrets``; None: none).
            A hook that raises makes the value ``"<redaction failed: ...>"``: nothing unredacted is kept.
    """

    def __init__(
        self, max_chars: int = DEFAULT_MAX_CHARS, redact: Callable[[Any], Any] | None = redact_secrets
    ) -> None:
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 16:
            raise ValueError(f"capture_max_chars must be a whole number >= 16, got {max_chars!r}")
        if redact is not None and not callable(redact):
            raise TypeError(f"capture_redact must be callable or None, got {type(redact).__name__}")
        self.max_chars = max_chars
        self.redact = redact

    def resolve(self, value: Any, record: Any = None) -> Any:
        """The JSON-ready form of a captured value (a ``Pending`` or a value set before); never raises."""
        try:
            # Converted with room to spare, redacted, then cut: a secret the first cut split is still whole here.
            converted = jsonable(self._raw(value, record), 4 * self.max_chars)
        except Exception as error:  # noqa: BLE001 - a capture must never cost the span
            return f"<capture failed: {type(error).__name__}>"
        if self.redact is not None:
            try:
                converted = self.redact(converted)
            except Exception as error:  # noqa: BLE001 - nothing unredacted is kept
                return f"<redaction failed: {type(error).__name__}>"
        return jsonable(converted, self.max_chars)

    def _raw(self, value: Any, record: Any) -> Any:
        if type(value) is not Pending:
            return value
        if value.kind == "error":
            return {"exception": {"type": record.exception_type, "message": record.exception_message}}
        if value.kind == "value":
            return value.raw
        signature, args, kwargs = value.raw
        return bind_arguments(signature, args, kwargs)

    def materialise(self, record: Any) -> Any:
        """``record`` with its captured inputs and outputs serialised (the record itself when it has none)."""
        inputs, outputs = record.inputs, record.outputs
        if type(inputs) is not Pending and type(outputs) is not Pending:
            return record
        return record._replace(
            inputs=None if inputs is None else self.resolve(inputs, record),
            outputs=None if outputs is None else self.resolve(outputs, record),
        )


def bind_arguments(signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``{parameter: value}`` (``self``/``cls`` left out), or ``{"args", "kwargs"}`` when they do not bind."""
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:
            pass
        else:
            out = dict(bound.arguments)
            first = next(iter(signature.parameters), None)
            if first in ("self", "cls") and first in out:
                del out[first]
            return out
    return {"args": list(args), "kwargs": dict(kwargs)}


def jsonable(value: Any, max_chars: int) -> Any:
    """``value`` as JSON-ready data whose JSON text is about ``max_chars`` characters at most."""
    return _Converter(max_chars).convert(value, 0)


class _Converter:
    def __init__(self, budget: int) -> None:
        self.left = budget
        self._path: set[int] = set()  # containers being converted: a cycle is cut, not followed

    def convert(self, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is str:
            return self._text(value)
        if kind is int and not -(2**63) <= value < 2**64:
            return self._text(str(value))  # past what JSON encoders (orjson) take as a number
        if value is None or kind is bool or kind is int or kind is float:
            self.left -= len(repr(value)) if kind is not float else 12
            return value
        if isinstance(value, str):  # a str subclass (an enum member...)
            return self._text(str(value))
        if isinstance(value, (int, float)):
            return self.convert(float(value) if isinstance(value, float) else int(value), depth)
        if depth >= MAX_DEPTH or id(value) in self._path:
            return self._text(f"<{type(value).__name__}>")
        if isinstance(value, Mapping):
            return self._mapping(value, depth)
        if isinstance(value, (list, tuple, set, frozenset)) and not hasattr(value, "_asdict"):
            return self._sequence(value, depth)
        return self.convert(_plain(value), depth + 1)

    def _text(self, text: str) -> str:
        need = len(text) + 2
        if need <= self.left:
            self.left -= need
            return text
        keep = max(self.left - 24, 0)
        self.left = 0
        cut_before = _CUT_TEXT.search(text)
        return f"{text[:keep]}... ({int(cut_before.group(1)) if cut_before else len(text)} chars)"

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._path.add(id(value))
        try:
            items = list(value.items())
            for index, (key, item) in enumerate(items):
                if self.left <= 0:
                    out["..."] = f"{_left_out(items[index:], _CUT_KEYS, lambda kv: kv[0] == '...' and kv[1])} more keys"
                    break
                name = key if type(key) is str else str(key)
                self.left -= len(name) + 4
                out[name] = self.convert(item, depth + 1)
        finally:
            self._path.discard(id(value))
        return out

    def _sequence(self, value: Any, depth: int) -> list[Any]:
        out: list[Any] = []
        self._path.add(id(value))
        try:
            items = list(value)
            for index, item in enumerate(items):
                if self.left <= 0:
                    out.append(f"... ({_left_out(items[index:], _CUT_ITEMS, lambda item: item)} more items)")
                    break
                self.left -= 1
                out.append(self.convert(item, depth + 1))
        finally:
            self._path.discard(id(value))
        return out


def _left_out(rest: list[Any], mark: re.Pattern[str], text_of: Callable[[Any], Any]) -> int:
    """How many items ``rest`` stands for: its items, the count an earlier cut's mark holds in place of one."""
    count = 0
    for item in rest:
        text = text_of(item)
        found = mark.match(text) if isinstance(text, str) else None
        count += int(found.group(1)) if found else 1
    return count


def _plain(value: Any) -> Any:
    """An object as plain data: the first of its own serialisations that works, else its ``repr``."""
    if isinstance(value, BaseException):
        return {"type": type(value).__name__, "message": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if hasattr(value, "_asdict"):  # a named tuple
        return value._asdict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    for method in ("model_dump", "get_json", "to_dict", "tolist", "dict"):
        convert = getattr(value, method, None)
        if callable(convert) and not isinstance(value, type):
            try:
                return convert()
            except Exception:  # noqa: BLE001, S112 - the next form, or the repr
                continue
    try:
        return repr(value)
    except Exception as error:  # noqa: BLE001 - a broken __repr__ must not cost the span
        return f"<{type(value).__name__} (repr failed: {type(error).__name__})>"
