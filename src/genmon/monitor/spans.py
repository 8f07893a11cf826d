"""Span records, the recent-span store and how span batches reach handlers.

A span is one tracked call (see ``genmon.monitor.tracking``). Finished spans
travel like metric points: the producer puts a ``SpanRecord`` on the span
queue, the span worker appends each batch to a ``SpanStore`` (what
``monitor.get_spans`` reads), writes spans.jsonl and hands the batch to every
handler that has ``handle_span`` on its own lane.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple

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
MAX_RECENT_SPANS = 100_000
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
        cost_usd: set explicitly or derived from the price table; None when unknown.
        exception_type, exception_message: the exception's class name and text when it failed.
        metadata: the ``**metadata`` given to ``track`` plus ``span.set_metadata`` items.
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


class SpanStore:
    """The most recent finished spans, bounded, readable from any thread.

    Args:
        maxlen: spans kept; the oldest are forgotten first.
    """

    def __init__(self, maxlen: int = MAX_RECENT_SPANS) -> None:
        self._spans: deque[SpanRecord] = deque(maxlen=maxlen)
        # The span worker appends while readers copy: a deque mutated during
        # iteration raises, so both sides take this lock (never during I/O).
        self._lock = threading.Lock()

    def append_batch(self, spans: Iterable[SpanRecord]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def __len__(self) -> int:
        return len(self._spans)

    def query(
        self,
        name: str | None = None,
        parent_call_id: Any = ANY,
        span_type: str | None = None,
        start_ts: float | None = None,
        limit: int | None = None,
    ) -> list[SpanRecord]:
        """Spans matching every given filter in the order they finished; ``limit`` keeps the last ones."""
        with self._lock:
            spans = list(self._spans)
        if start_ts is not None:
            spans = [s for s in spans if s.start >= start_ts]
        if name is not None:
            spans = [s for s in spans if s.name == name]
        if parent_call_id is not ANY:
            spans = [s for s in spans if s.parent_call_id == parent_call_id]
        if span_type is not None:
            canonical = check_span_type(span_type)
            spans = [s for s in spans if s.span_type == canonical]
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ValueError(f"limit must be an int >= 0 or None, got {limit!r}")
            spans = spans[len(spans) - limit :] if limit else []
        return spans


def has_span_method(handler: Any) -> bool:
    """True for a handler that takes spans (``handle_span`` or ``handle_span_batch``)."""
    return callable(getattr(handler, "handle_span", None)) or callable(getattr(handler, "handle_span_batch", None))


def deliver_spans(handler: Any, spans: list[SpanRecord]) -> None:
    """Send a batch to a handler: ``handle_span_batch`` when it has one, else ``handle_span`` per span."""
    batch = getattr(handler, "handle_span_batch", None)
    if batch is not None:
        batch(spans)
        return
    first_error = None
    for span in spans:
        try:
            handler.handle_span(span)
        except Exception as error:  # noqa: BLE001 - one bad span must not hide the rest of the batch
            first_error = first_error or error
    if first_error is not None:
        raise first_error


def make_span_deliver() -> Any:
    """The pipeline's ``make_deliver``: span delivery keeps no per-thread state."""
    return deliver_spans
