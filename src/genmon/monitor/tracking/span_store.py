"""The recent-span store: what ``monitor.get_spans`` reads.

Finished spans travel like metric points: the producer puts a ``SpanRecord``
on the span queue, and the span worker appends each batch here, writes
spans.jsonl and hands the batch to every handler that has ``handle_span``.

The store keeps each span as a plain tuple with its metadata as items
(``records.spans.untracked_form``), not as a ``SpanRecord`` holding a dict:
100,000 tracked records would be scanned by every full collection, and a
loop of tracked calls triggers one every ~25,000 spans. A plain tuple of
text and numbers is untracked once the collector has seen it. Readers get
``SpanRecord``s, rebuilt per query.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import Any

from genmon.records.spans import ANY, SPAN_FIELDS, SpanRecord, check_span_type, span_records, untracked_form

MAX_RECENT_SPANS = 100_000


class SpanStore:
    """The most recent finished spans, bounded, readable from any thread.

    Args:
        maxlen: spans kept; the oldest are forgotten first.
    """

    def __init__(self, maxlen: int = MAX_RECENT_SPANS) -> None:
        self._spans: deque[tuple[Any, ...]] = deque(maxlen=maxlen)
        # The span worker appends while readers copy: a deque mutated during
        # iteration raises, so both sides take this lock (never during I/O).
        self._lock = threading.Lock()

    def append_batch(self, spans: Iterable[SpanRecord]) -> None:
        kept = list(map(untracked_form, spans))
        with self._lock:
            self._spans.extend(kept)

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
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be an int >= 0 or None, got {limit!r}")
        canonical = check_span_type(span_type) if span_type is not None else None
        with self._lock:
            spans = list(self._spans)
        if start_ts is not None:
            spans = [s for s in spans if s[_START] >= start_ts]
        if name is not None:
            spans = [s for s in spans if s[_NAME] == name]
        if parent_call_id is not ANY:
            spans = [s for s in spans if s[_PARENT] == parent_call_id]
        if canonical is not None:
            spans = [s for s in spans if s[_SPAN_TYPE] == canonical]
        if limit is not None:
            spans = spans[len(spans) - limit :] if limit else []
        return span_records(spans)


_START, _NAME, _PARENT, _SPAN_TYPE = map(SPAN_FIELDS.index, ("start", "name", "parent_call_id", "span_type"))
