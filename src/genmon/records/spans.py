"""The span record: one finished tracked call, as it travels to the span store, files and sinks.

On the span queue and in the span store a finished call is a plain tuple in
``SpanRecord``'s field order, its metadata packed (``validation.pack_metadata``)
or as a tuple of its items: a ``SpanRecord`` (a tuple subclass) and a tuple
holding a dict are never untracked by CPython's collector, so a backlog of
them is scanned and promoted by every collection. Handlers and readers get
``SpanRecord``s (``span_record``).
"""

from __future__ import annotations

import itertools
import os
from typing import Any, NamedTuple

from genmon.records.validation import unpack_metadata

__all__ = ["ANY", "SPAN_TYPES", "SpanRecord", "check_span_type", "new_call_id"]

SPAN_TYPES: tuple[str, ...] = (
    "LLM",
    "CHAT_MODEL",
    "AGENT",
    "TOOL",
    "RETRIEVER",
    "EMBEDDING",
    "EVALUATOR",
    "CHAIN",
    "RERANKER",
    "PARSER",
    "UNKNOWN",
)
ANY: Any = object()  # "no filter" for get_spans' parent_call_id, where None means "root spans"


_ids = itertools.count(1)
_prefix = os.urandom(4).hex()


def _reseed_ids() -> None:
    # A forked child continues the parent's counter: a new prefix keeps ids unique.
    global _ids, _prefix
    _ids, _prefix = itertools.count(1), os.urandom(4).hex()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed_ids)


def new_call_id() -> str:
    """A call id unique across processes: 8 random hex digits then a 12-digit counter."""
    return f"{_prefix}{next(_ids):012x}"


def check_span_type(span_type: Any) -> str:
    """The canonical (upper-case) span type, or ValueError listing the known ones."""
    if isinstance(span_type, str):
        canonical = span_type.upper()
        if canonical in SPAN_TYPES:
            return canonical
    raise ValueError(f"span_type must be one of {', '.join(SPAN_TYPES)}; got {span_type!r:.80}")


class SpanRecord(NamedTuple):
    """One finished tracked call; immutable, shared by every handler (do not mutate ``metadata``).

    Attributes:
        call_id: unique in the process (and, with its random prefix, across processes).
        parent_call_id: the enclosing tracked call's ``call_id``, or None for a root span.
        name: the operation (``track``'s first argument); ``operation`` is an alias.
        span_type: one of ``SPAN_TYPES``.
        start: epoch seconds when the call started (the monitor's clock).
        duration_s: wall time of the call in seconds.
        success: False when the call raised.
        model_name, component: as given to ``track`` or set on the span.
        prompt_tokens, completion_tokens: token usage, None when unknown.
        cost_usd: set explicitly, reported by the response, or from the price table; None when unknown.
        exception_type, exception_message: the exception's class name and text when it failed.
        metadata: the ``**metadata`` given to ``track`` plus ``span.set_metadata`` items.
        finish_reason: why the model stopped (``stop``, ``length``...), read from the response.
        response_model: the model the response says answered, when it says.
        trace_id: 32 hex digits shared by a call tree: the application's OpenTelemetry
            trace when a span of it was current where the root call started, else a fresh one.
        parent_span_id: 16 hex digits: the application's OpenTelemetry span a root call
            started in (None for a child, whose parent is ``parent_call_id``).
        inputs, outputs: what went in and what came out (arguments, return value or
            exception), JSON-ready, redacted and truncated; None unless captured
            (``capture_io=True``) or set with ``span.set_inputs`` / ``set_outputs``.
        cost_source: where ``cost_usd`` came from: ``"explicit"`` (``span.set_cost``),
            ``"provider"`` (the response's ``usage.cost``, OpenRouter), ``"litellm"``
            (LiteLLM's ``response_cost``) or ``"price_table"``; None without a cost.
    """

    call_id: str
    parent_call_id: str | None
    name: str
    span_type: str
    start: float
    duration_s: float
    success: bool
    model_name: str | None = None
    component: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    exception_type: str | None = None
    exception_message: str | None = None
    metadata: dict[str, Any] | None = None
    # Added after the first release: trailing and defaulted, so records built positionally still work.
    finish_reason: str | None = None
    response_model: str | None = None
    trace_id: str | None = None
    parent_span_id: str | None = None
    inputs: Any = None
    outputs: Any = None
    cost_source: str | None = None

    @property
    def operation(self) -> str:
        return self.name

    @property
    def end(self) -> float:
        """Epoch seconds when the call ended (``start + duration_s``)."""
        return self.start + self.duration_s

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``metadata`` is always a dict)."""
        out = self._asdict()
        out["metadata"] = dict(self.metadata) if self.metadata else {}
        return out


SPAN_FIELDS: tuple[str, ...] = SpanRecord._fields  # a spans.jsonl line's keys, in order
METADATA, INPUTS, OUTPUTS = map(SPAN_FIELDS.index, ("metadata", "inputs", "outputs"))
_new = tuple.__new__


def span_record(span: tuple[Any, ...]) -> SpanRecord:
    """A queued or stored span as handlers and readers get it: a ``SpanRecord``, its metadata a dict (or None)."""
    if type(span) is SpanRecord:
        return span
    meta = span[METADATA]
    if type(meta) is tuple:
        span = (*span[:METADATA], unpack_metadata(meta), *span[METADATA + 1 :])
    return _new(SpanRecord, span)  # type: ignore[no-any-return]


def span_records(spans: list[Any]) -> list[SpanRecord]:
    """``span_record`` of each span of a batch."""
    return list(map(span_record, spans))


def untracked_form(span: tuple[Any, ...]) -> tuple[Any, ...]:
    """A span as the span store keeps it: a plain tuple, a metadata dict as a tuple of its items."""
    meta = span[METADATA]
    if type(span) is tuple and type(meta) is not dict:
        return span
    if type(meta) is dict:
        return (*span[:METADATA], tuple(meta.items()), *span[METADATA + 1 :])
    return tuple(span)
